"""entropy, least_confidence, margin against NumPy/SciPy formulas written here."""

import numpy as np
import pytest
import scipy.special
import scipy.stats
import tensorflow as tf

import kerastricks as kt

pytestmark = pytest.mark.backend_independent


def random_probs(n=50, c=7, seed=0, dtype="float64"):
    return np.random.default_rng(seed).dirichlet(np.ones(c) * 0.5, size=n).astype(dtype)


def edge_probs():
    """One-hot rows, uniform rows, a two-way tie at the top, a three-way tie, zeros."""
    return np.array(
        [
            [1.0, 0.0, 0.0, 0.0],
            [0.0, 0.0, 0.0, 1.0],
            [0.25, 0.25, 0.25, 0.25],
            [0.4, 0.4, 0.2, 0.0],
            [0.3, 0.3, 0.3, 0.1],
            [0.0, 0.5, 0.0, 0.5],
        ]
    )


# The references: textbook formulas, independent of kerastricks' implementation.
def ref_entropy(p):
    # -sum p log p with xlogy(0, 0) = 0; natural log. (No renormalisation of the rows,
    # unlike scipy.stats.entropy, which the float16 test would otherwise trip on.)
    return -scipy.special.xlogy(p, p).sum(axis=1)


def test_entropy_matches_scipy_stats():
    probs = random_probs(c=6)
    # scipy.stats.entropy: natural log, 0 log 0 = 0, rows here already sum to 1.
    np.testing.assert_allclose(kt.active.entropy(probs), scipy.stats.entropy(probs, axis=1))


def ref_least_confidence(p):
    return 1.0 - p.max(axis=1)


def ref_margin(p):
    s = np.sort(p, axis=1)
    return 1.0 - (s[:, -1] - s[:, -2])


CASES = [
    (kt.active.entropy, ref_entropy),
    (kt.active.least_confidence, ref_least_confidence),
    (kt.active.margin, ref_margin),
]


@pytest.mark.parametrize("function, reference", CASES)
@pytest.mark.parametrize("classes", [2, 3, 10])
def test_random_rows_match_reference(function, reference, classes):
    probs = random_probs(c=classes, seed=classes)
    np.testing.assert_allclose(function(probs), reference(probs), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("function, reference", CASES)
def test_edge_rows_match_reference(function, reference):
    probs = edge_probs()
    scores = function(probs)
    assert np.all(np.isfinite(scores))
    np.testing.assert_allclose(scores, reference(probs), rtol=1e-12, atol=1e-12)


def test_edge_values_in_closed_form():
    probs = edge_probs()
    # entropy: one-hot -> 0 exactly; uniform over 4 -> log 4; ties by hand.
    np.testing.assert_array_equal(kt.active.entropy(probs)[:2], [0.0, 0.0])
    assert not np.signbit(kt.active.entropy(probs)[:2]).any()  # +0.0, not -0.0
    np.testing.assert_allclose(kt.active.entropy(probs)[2], np.log(4.0), rtol=1e-12)
    # margin: tied top classes give the maximum 1; one-hot gives 0.
    np.testing.assert_array_equal(kt.active.margin(probs), [0.0, 0.0, 1.0, 1.0, 1.0, 1.0])
    # least confidence: 1 - max p by hand.
    np.testing.assert_allclose(kt.active.least_confidence(probs), [0, 0, 0.75, 0.6, 0.7, 0.5])


@pytest.mark.parametrize("function, reference", CASES)
def test_member_probabilities_are_averaged_first(function, reference):
    members = np.stack([random_probs(seed=s, c=5) for s in range(4)])  # [4, 50, 5]
    expected = reference(members.mean(axis=0))
    np.testing.assert_allclose(function(members), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("function, reference", CASES)
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_dtypes(function, reference, dtype):
    probs = random_probs(dtype=dtype)
    scores = function(probs)
    assert scores.dtype == (np.float64 if dtype == "float64" else np.float32)
    expected = reference(probs.astype("float64"))
    np.testing.assert_allclose(scores, expected, atol=1e-5 if dtype != "float64" else 1e-12)


@pytest.mark.tensorflow
@pytest.mark.parametrize("function, reference", CASES)
def test_tensor_and_list_inputs(function, reference):
    probs = random_probs(n=6, c=3, dtype="float32")
    expected = reference(probs.astype("float64"))
    np.testing.assert_allclose(function(tf.constant(probs)), expected, atol=1e-6)
    np.testing.assert_allclose(function(probs.tolist()), expected, atol=1e-6)
    bf16 = tf.cast(tf.constant(probs), tf.bfloat16)
    assert np.all(np.isfinite(function(bf16)))


@pytest.mark.parametrize("function", [f for f, _ in CASES])
def test_empty_pool(function):
    assert function(np.zeros((0, 3))).shape == (0,)


@pytest.mark.parametrize("function", [f for f, _ in CASES])
def test_bad_inputs_raise_clear_errors(function):
    with pytest.raises(TypeError, match=r"floating-point.*Received: probs.dtype='int64'"):
        function(np.eye(3, dtype="int64"))
    with pytest.raises(TypeError, match="floating-point"):
        function(np.eye(3, dtype=bool))
    with pytest.raises(ValueError, match=r"rank 2 or 3.*Received: probs.shape=\(6,\)"):
        function(np.full(6, 0.5))
    with pytest.raises(ValueError, match="rank 2 or 3"):
        function(np.full((1, 2, 3, 4), 0.5))
    with pytest.raises(ValueError, match=r"at least 2 classes.*Received: probs.shape=\(4, 1\)"):
        function(np.ones((4, 1)))
    with pytest.raises(ValueError, match=r"logits.*Received: \[probs.min\(\), probs.max\(\)\]"):
        function(np.array([[2.0, -1.0], [0.5, 0.5]]))
    with pytest.raises(ValueError, match="NaN"):
        function(np.array([[np.nan, 0.5], [0.5, 0.5]]))
    import keras

    with pytest.raises(TypeError, match="symbolic"):
        function(keras.Input((3,)))


@pytest.mark.parametrize("function, reference", CASES)
def test_pool_larger_than_one_block(function, reference):
    # 40,000 rows span three blocks of the blocked evaluation (and a partial last block).
    probs = random_probs(n=40_000, c=3, seed=7, dtype="float32")
    expected = reference(probs.astype("float64"))
    np.testing.assert_allclose(function(probs), expected, atol=2e-6)
    members = np.stack([probs, probs[::-1]])  # [2, 40000, 3], averaged first
    expected = reference(members.astype("float64").mean(axis=0))
    np.testing.assert_allclose(function(members), expected, atol=2e-6)
