import numpy as np
import pytest
import tensorflow as tf
from numpy.lib.stride_tricks import sliding_window_view

import kerastricks as kt


def _reference(x, y, ssim_weight, l1_weight, size):
    """Monodepth2's error in NumPy: 3x3 box SSIM on reflection-padded images, plus L1."""
    pad = (size - 1) // 2
    widths = [(0, 0), (pad, pad), (pad, pad), (0, 0)]
    xp, yp = np.pad(x, widths, mode="reflect"), np.pad(y, widths, mode="reflect")

    def box(a):  # mean over each size x size window -> [B, H, W, C]
        return sliding_window_view(a, (size, size), axis=(1, 2)).mean(axis=(-2, -1))

    c1, c2 = 0.01**2, 0.03**2
    mx, my = box(xp), box(yp)
    vx, vy, cxy = box(xp * xp) - mx**2, box(yp * yp) - my**2, box(xp * yp) - mx * my
    ssim = (2 * mx * my + c1) * (2 * cxy + c2) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    dssim = ((1 - ssim) / 2).mean(axis=-1)
    return ssim_weight * dssim + l1_weight * np.abs(x - y).mean(axis=-1)


@pytest.mark.parametrize("size", [1, 3, 5])
def test_matches_the_numpy_formula(size):
    rng = np.random.default_rng(0)
    x, y = rng.random((2, 7, 9, 3)), rng.random((2, 7, 9, 3))
    expected = _reference(x, y, 0.85, 0.15, size)
    got = kt.losses.photometric_error(x.astype("float32"), y.astype("float32"), filter_size=size)
    assert got.shape == (2, 7, 9)
    np.testing.assert_allclose(got, expected, atol=2e-5)
    got = kt.losses.photometric_error(x, y, ssim_weight=0.0, l1_weight=1.0, filter_size=size)
    np.testing.assert_allclose(got, np.abs(x - y).mean(axis=-1), atol=1e-6)


def test_tensor_weights_and_finite_gradients_on_constant_images():
    x = tf.constant(np.full((1, 5, 5, 3), 0.5), "float32")  # constant: zero variances
    y = tf.Variable(np.full((1, 5, 5, 3), 0.5), dtype="float32")
    with tf.GradientTape() as tape:
        error = kt.losses.photometric_error(x, y, tf.constant(0.85), tf.constant(0.15))
        total = tf.reduce_sum(error)
    np.testing.assert_allclose(error, 0.0, atol=1e-6)  # identical images: no error
    assert np.all(np.isfinite(tape.gradient(total, y)))


def test_bad_arguments_raise():
    x = np.zeros((1, 4, 4, 1), "float32")
    with pytest.raises(ValueError, match="`filter_size` must be odd"):
        kt.losses.photometric_error(x, x, filter_size=2)
    with pytest.raises(ValueError, match="`ssim_weight`"):
        kt.losses.photometric_error(x, x, ssim_weight=-1.0)
    with pytest.raises(ValueError, match="same height, width and channels"):
        kt.losses.photometric_error(x, np.zeros((1, 4, 5, 1), "float32"))
