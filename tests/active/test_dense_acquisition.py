"""Dense (per-pixel) acquisition against NumPy written here."""

import numpy as np
import pytest

import kerastricks as kt

pytestmark = pytest.mark.backend_independent


def softmax(logits):
    e = np.exp(logits - logits.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def pixel_entropy(p):
    return -(p * np.log(p)).sum(-1)


REDUCE = {"mean": np.mean, "max": np.max, "sum": np.sum}


@pytest.mark.parametrize("reduction", ["mean", "max", "sum"])
def test_one_model_entropy_and_margin(reduction):
    probs = softmax(np.random.default_rng(0).normal(0.0, 2.0, (3, 4, 5, 3)))
    # Expected: per-pixel entropy / margin written here, reduced over H and W.
    entropy = REDUCE[reduction](pixel_entropy(probs), axis=(1, 2))
    ordered = np.sort(probs, -1)
    margin = REDUCE[reduction](1.0 - (ordered[..., -1] - ordered[..., -2]), axis=(1, 2))
    np.testing.assert_allclose(
        kt.active.dense_acquisition(probs, "entropy", reduction), entropy, rtol=1e-12
    )
    np.testing.assert_allclose(
        kt.active.dense_acquisition(probs, "margin", reduction), margin, rtol=1e-12
    )


@pytest.mark.parametrize("reduction", ["mean", "max", "sum", None])
def test_members_first_bald(reduction):
    probs = softmax(np.random.default_rng(1).normal(0.0, 2.0, (4, 2, 3, 5, 2)))
    # Expected: BALD per pixel, H(mean over members) - mean over members of H.
    bald = pixel_entropy(probs.mean(0)) - pixel_entropy(probs).mean(0)
    expected = bald if reduction is None else REDUCE[reduction](bald, axis=(1, 2))
    np.testing.assert_allclose(
        kt.active.dense_acquisition(probs, "bald", reduction), expected, rtol=1e-9, atol=1e-12
    )


def test_a_callable_scores_pixels_of_members():
    probs = softmax(np.random.default_rng(2).normal(0.0, 1.0, (3, 2, 2, 2, 4)))

    def top_probability(member_probs):
        return member_probs.mean(0).max(-1)

    expected = probs.mean(0).max(-1).max(axis=(1, 2))
    np.testing.assert_allclose(
        kt.active.dense_acquisition(probs, top_probability, "max"), expected, rtol=1e-12
    )


def test_bad_inputs_raise():
    probs = np.full((2, 3, 3, 2), 0.5)
    with pytest.raises(ValueError, match="`bald` measures disagreement between members"):
        kt.active.dense_acquisition(probs, "bald")
    with pytest.raises(ValueError, match="`reduction` must be one of 'mean', 'max', 'sum', None"):
        kt.active.dense_acquisition(probs, reduction="median")
    with pytest.raises(ValueError, match="must have rank 4 or 5"):
        kt.active.dense_acquisition(probs[0])
