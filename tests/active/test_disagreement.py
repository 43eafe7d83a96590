"""variation_ratio, bald, mean_std against NumPy/SciPy formulas written here."""

import collections

import numpy as np
import pytest
import scipy.special
import tensorflow as tf

import kerastricks as kt

pytestmark = pytest.mark.backend_independent


def random_members(m=5, n=40, c=6, seed=0, dtype="float64"):
    rng = np.random.default_rng(seed)
    return rng.dirichlet(np.ones(c) * 0.4, size=(m, n)).astype(dtype)


def edge_members():
    """[3 members, 5 samples, 3 classes]: agreement, one-hot disagreement, uniform rows,
    tied member rows (argmax takes the first class) and a three-way vote split."""
    one_hot = np.eye(3)
    uniform = np.full(3, 1 / 3)
    tie = np.array([0.5, 0.5, 0.0])
    samples = [
        [one_hot[0], one_hot[0], one_hot[0]],  # all agree, confident
        [one_hot[0], one_hot[1], one_hot[1]],  # 2 vs 1, confident
        [uniform, uniform, uniform],  # all agree, unsure
        [tie, tie, one_hot[1]],  # ties vote class 0 (first); 2 vs 1
        [one_hot[0], one_hot[1], one_hot[2]],  # three-way split
    ]
    return np.array(samples).transpose(1, 0, 2)  # -> [M, N, C]


# The references: textbook formulas, independent of kerastricks' implementation.
def ref_entropy(p):
    return -scipy.special.xlogy(p, p).sum(axis=-1)  # natural log, 0 log 0 = 0


def ref_variation_ratio(members):
    m, n, _ = members.shape
    votes = members.argmax(axis=-1)  # [M, N]; argmax breaks ties towards the first class
    return np.array(
        [1 - collections.Counter(votes[:, i]).most_common(1)[0][1] / m for i in range(n)]
    )


def ref_bald(members):
    return ref_entropy(members.mean(axis=0)) - ref_entropy(members).mean(axis=0)


def ref_mean_std(members):
    return members.std(axis=0).mean(axis=-1)  # population std (ddof=0) over members


CASES = [
    (kt.active.variation_ratio, ref_variation_ratio),
    (kt.active.bald, ref_bald),
    (kt.active.mean_std, ref_mean_std),
]


@pytest.mark.parametrize("function, reference", CASES)
@pytest.mark.parametrize("m, c", [(2, 2), (5, 10), (20, 3)])
def test_random_members_match_reference(function, reference, m, c):
    members = random_members(m=m, c=c, seed=m + c)
    np.testing.assert_allclose(function(members), reference(members), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("function, reference", CASES)
def test_edge_members_match_reference(function, reference):
    members = edge_members()
    scores = function(members)
    assert np.all(np.isfinite(scores))
    np.testing.assert_allclose(scores, reference(members), rtol=1e-12, atol=1e-12)


def test_edge_values_in_closed_form():
    members = edge_members()
    # Variation ratio by counting votes by hand: 3/3, 2/3, 3/3, 2/3, 1/3 agree.
    np.testing.assert_allclose(kt.active.variation_ratio(members), [0, 1 / 3, 0, 1 / 3, 2 / 3])
    # BALD: agreeing members give 0 (confident or not); a 3-way confident split gives log 3
    # (mean is uniform, members have zero entropy).
    bald = kt.active.bald(members)
    np.testing.assert_allclose(bald[[0, 2]], [0.0, 0.0], atol=1e-15)
    np.testing.assert_allclose(bald[4], np.log(3.0), rtol=1e-12)
    assert np.all(bald >= 0)
    # mean_std: members agree -> 0.
    np.testing.assert_allclose(kt.active.mean_std(members)[[0, 2]], [0.0, 0.0], atol=1e-15)


@pytest.mark.parametrize("function, reference", CASES)
def test_single_member_scores_zero(function, reference):
    members = random_members(m=1)
    np.testing.assert_allclose(function(members), 0.0, atol=1e-7)
    np.testing.assert_allclose(reference(members), 0.0, atol=1e-7)


@pytest.mark.parametrize("function, reference", CASES)
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_dtypes(function, reference, dtype):
    members = random_members(dtype=dtype)
    scores = function(members)
    assert scores.dtype == (np.float64 if dtype == "float64" else np.float32)
    expected = reference(members.astype("float64"))
    np.testing.assert_allclose(scores, expected, atol=1e-5 if dtype != "float64" else 1e-12)


@pytest.mark.tensorflow
@pytest.mark.parametrize("function, reference", CASES)
def test_tensor_and_list_inputs(function, reference):
    members = random_members(m=3, n=4, c=3, dtype="float32")
    expected = reference(members.astype("float64"))
    np.testing.assert_allclose(function(tf.constant(members)), expected, atol=1e-6)
    np.testing.assert_allclose(function(members.tolist()), expected, atol=1e-6)


@pytest.mark.parametrize("function", [f for f, _ in CASES])
def test_empty_pool(function):
    assert function(np.zeros((3, 0, 4))).shape == (0,)


@pytest.mark.parametrize("function", [f for f, _ in CASES])
def test_bad_inputs_raise_clear_errors(function):
    with pytest.raises(
        ValueError,
        match=r"rank 3 \(\[M, N, C\], members first\).*"
        r"Received: member_probs.shape=\(4, 3\)",
    ):
        function(np.full((4, 3), 1 / 3))
    with pytest.raises(TypeError, match=r"floating-point.*member_probs.dtype='int32'"):
        function(np.ones((2, 3, 4), dtype="int32"))
    with pytest.raises(ValueError, match="at least 2 classes"):
        function(np.ones((2, 3, 1)))
    with pytest.raises(ValueError, match="logits"):
        function(np.full((2, 3, 4), -0.1))
    with pytest.raises(ValueError, match="NaN"):
        function(np.full((2, 3, 4), np.inf))


@pytest.mark.parametrize("function", [f for f, _ in CASES] + [kt.active.entropy])
def test_zero_members_raise(function):
    with pytest.raises(ValueError, match=r"at least one member.*Received: \w+.shape=\(0, 3, 4\)"):
        function(np.zeros((0, 3, 4)))


@pytest.mark.parametrize("function, reference", CASES)
def test_pool_larger_than_one_block(function, reference):
    # 40,000 rows span three blocks of the blocked evaluation (and a partial last block).
    members = random_members(m=3, n=40_000, c=4, seed=3, dtype="float32")
    expected = reference(members.astype("float64"))
    np.testing.assert_allclose(function(members), expected, atol=2e-6)


@pytest.mark.parametrize("function, reference", CASES)
def test_many_samples(function, reference):
    # 300 Monte Carlo samples: vote counts above 255 must not overflow.
    members = random_members(m=300, n=20, c=3, seed=4)
    members[:, 0] = [1.0, 0.0, 0.0]  # every sample votes class 0 for the first row
    np.testing.assert_allclose(function(members), reference(members), rtol=1e-10, atol=1e-12)
