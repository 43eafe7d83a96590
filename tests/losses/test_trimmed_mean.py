import numpy as np
import pytest
import tensorflow as tf

import kerastricks as kt


def _reference(errors, mask, fraction):
    """Per sample: sort the valid pixels' errors, drop the floor(fraction * n) largest,
    average the rest weighted by the mask (no ties in the test's random errors)."""
    out = []
    for e, m in zip(errors.reshape(len(errors), -1), mask.reshape(len(mask), -1)):
        order = np.argsort(e[m > 0])
        values, weights = e[m > 0][order], m[m > 0][order]
        keep = len(values) - int(np.floor(fraction * len(values)))
        values, weights = values[:keep], weights[:keep]
        out.append(np.sum(values * weights) / np.sum(weights) if keep else 0.0)
    return np.array(out)


@pytest.mark.parametrize("fraction", [0.0, 0.2, 0.5, 0.9])
def test_matches_the_numpy_formula(fraction):
    rng = np.random.default_rng(0)
    errors = rng.random((4, 5, 6)).astype("float32")
    mask = (rng.random((4, 5, 6)) > 0.3) * rng.uniform(0.5, 1.0, (4, 5, 6))
    mask = mask.astype("float32")
    mask[3] = 0.0  # a sample with no valid pixel: 0, not NaN
    expected = _reference(errors, mask, fraction)
    got = kt.losses.trimmed_mean(errors, mask, fraction)
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    got = kt.losses.trimmed_mean(errors, mask[..., None], fraction)  # a warp's [B, H, W, 1]
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_without_mask_and_fraction_zero_it_is_the_mean():
    errors = np.random.default_rng(1).random((3, 4, 4)).astype("float32")
    np.testing.assert_allclose(
        kt.losses.trimmed_mean(errors, fraction=0.0), errors.mean(axis=(1, 2)), rtol=1e-6
    )


def test_the_outliers_get_no_gradient():
    errors = tf.Variable([[0.1, 0.2, 9.0, 0.3, 8.0]])
    with tf.GradientTape() as tape:
        loss = kt.losses.trimmed_mean(errors, fraction=0.4)  # drops 2 of 5: 9 and 8
    np.testing.assert_allclose(loss, [0.2], rtol=1e-6)
    third = 1.0 / 3.0
    np.testing.assert_allclose(tape.gradient(loss, errors), [[third, third, 0.0, third, 0.0]])


def test_compiles_with_xla():
    errors = np.random.default_rng(2).random((2, 8, 8)).astype("float32")
    mask = np.ones((2, 8, 8, 1), "float32")
    compiled = tf.function(lambda e, m: kt.losses.trimmed_mean(e, m, 0.25), jit_compile=True)
    np.testing.assert_allclose(
        compiled(errors, mask), _reference(errors, mask[..., 0], 0.25), rtol=1e-6
    )


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="fraction"):
        kt.losses.trimmed_mean(np.zeros((1, 4)), fraction=1.0)
    with pytest.raises(TypeError, match="fraction"):
        kt.losses.trimmed_mean(np.zeros((1, 4)), fraction="0.2")
    with pytest.raises(ValueError, match="errors"):
        kt.losses.trimmed_mean(np.zeros(4))
    with pytest.raises(ValueError, match="`mask` must have the shape"):
        kt.losses.trimmed_mean(np.zeros((1, 3, 3)), np.ones((1, 3, 4)))
