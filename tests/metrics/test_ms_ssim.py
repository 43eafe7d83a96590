import numpy as np
import pytest
import tensorflow as tf
from skimage import data

import kerastricks as kt


def _pair(size, seed=0):
    image = data.astronaut()[: 2 * size[0] : 2, : 2 * size[1] : 2].astype("float32") / 255.0
    noisy = image + np.random.default_rng(seed).normal(0.0, 0.05, image.shape)
    return image[None], np.clip(noisy, 0, 1).astype("float32")[None]


@pytest.mark.parametrize(
    "size", [(192, 192), (181, 190), (161, 175)], ids=["even", "odd", "smallest"]
)
def test_matches_tf_image_ssim_multiscale(size):
    x, y = _pair(size)
    # Expected: TensorFlow's MS-SSIM (5 scales, the paper's weights, symmetric padding).
    expected = tf.image.ssim_multiscale(x, y, max_val=1.0).numpy()
    np.testing.assert_allclose(kt.metrics.ms_ssim(x, y), expected, atol=1e-5)


def test_custom_scales_match_tf():
    x, y = _pair((64, 64), seed=1)
    kwargs = dict(power_factors=(0.3, 0.7), filter_size=7, filter_sigma=1.0)
    expected = tf.image.ssim_multiscale(x, y, 1.0, **kwargs).numpy()
    np.testing.assert_allclose(kt.metrics.ms_ssim(x, y, **kwargs), expected, atol=1e-5)


def test_identical_images_give_one():
    x, _ = _pair((64, 64))
    np.testing.assert_allclose(kt.metrics.ms_ssim(x, x, power_factors=(0.5, 0.5)), [1.0], atol=1e-6)


def test_gradient_is_finite_where_a_term_is_clamped_at_zero():
    x, _ = _pair((48, 48))
    x = tf.constant(x)
    y = tf.constant(1.0 - x.numpy())  # inverted contrast: negative contrast-structure terms
    with tf.GradientTape() as tape:
        tape.watch(x)
        value = kt.metrics.ms_ssim(x, y, power_factors=(0.5, 0.5), filter_size=7)
    gradient = tape.gradient(value, x)
    assert np.all(np.isfinite(gradient))
    assert float(value[0]) == pytest.approx(
        float(tf.image.ssim_multiscale(x, y, 1.0, power_factors=(0.5, 0.5), filter_size=7)[0]),
        abs=1e-6,
    )


def test_too_small_images_and_bad_powers_raise():
    x, y = _pair((64, 64))
    # 160 px: 80, 40, 20, 10 pixels at the five scales, below the 11-pixel window; 161 px
    # (tested above against TensorFlow) pads to 162, 82, 42, 22: 11 pixels at the last.
    x160, y160 = _pair((160, 200))
    with pytest.raises(
        ValueError, match="at least \\(filter_size - 1\\) \\* 2\\^\\(scales - 1\\) \\+ 1 = 161"
    ):
        kt.metrics.ms_ssim(x160, y160)
    with pytest.raises(TypeError, match="`power_factors` must be a tuple or list"):
        kt.metrics.ms_ssim(x, y, power_factors=0.5)
    with pytest.raises(ValueError, match="`power_factors\\[i\\]` must be >= 0"):
        kt.metrics.ms_ssim(x, y, power_factors=(0.5, -1.0), filter_size=3)


def test_rejects_strings_and_warns_for_uint8_with_unit_range():
    with pytest.raises(TypeError, match="`x` must be a numeric image batch"):
        kt.metrics.ms_ssim("img", "img")
    x = np.zeros((1, 48, 48, 1), "uint8")
    with pytest.warns(UserWarning, match="max_val=255"):
        kt.metrics.ms_ssim(x, x, power_factors=(0.5, 0.5), filter_size=7)


def test_deprecated_losses_name_warns_and_gives_the_same_values():
    x, y = _pair((48, 48))
    kwargs = dict(power_factors=(0.5, 0.5), filter_size=7)
    with pytest.warns(DeprecationWarning, match="use `kt.metrics.ms_ssim`"):
        old = kt.losses.ms_ssim(x, y, **kwargs)
    np.testing.assert_array_equal(old, kt.metrics.ms_ssim(x, y, **kwargs))
