import os
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf
from scipy.ndimage import gaussian_filter, minimum_filter, uniform_filter
from skimage import data
from skimage.metrics import structural_similarity

import kerastricks as kt
from tests.helpers import run_loss_test


def _photos(names, size=96):
    """Crops of scikit-image photographs, float in [0, 1], as a batch."""
    crops = []
    for name in names:
        image = getattr(data, name)()[::3, ::3]
        crops.append(image[:size, :size].astype("float64") / 255.0)
    batch = np.stack(crops)
    return batch if batch.ndim == 4 else batch[..., None]


def _distorted(batch, seed=0):
    rng = np.random.default_rng(seed)
    noisy = batch + rng.normal(0.0, 0.08, batch.shape)
    blurred = gaussian_filter(batch, sigma=(0, 1.2, 1.2, 0))
    return np.clip(
        np.where(
            rng.random(batch.shape[:1])[:, None, None, None] < 0.5, noisy, 0.8 * blurred + 0.1
        ),
        0,
        1,
    )


RGB = ("astronaut", "chelsea", "coffee")
GRAY = ("camera", "moon", "coins")


@pytest.mark.parametrize("names", [RGB, GRAY], ids=["rgb", "gray"])
def test_matches_tf_image_ssim_on_photographs(names):
    x = _photos(names).astype("float32")
    y = _distorted(x).astype("float32")
    # Expected: TensorFlow's own SSIM (full 11x11 Gaussian window).
    expected = tf.image.ssim(x, y, max_val=1.0).numpy()
    np.testing.assert_allclose(kt.metrics.ssim(x, y), expected, atol=1e-5)
    assert np.all(expected < 0.99)  # really distorted


@pytest.mark.parametrize("names", [RGB, GRAY], ids=["rgb", "gray"])
def test_matches_scikit_image_on_photographs(names):
    x = _photos(names)
    y = _distorted(x, seed=1)
    ours = np.asarray(kt.metrics.ssim(x.astype("float32"), y.astype("float32")))
    for i in range(len(x)):
        # Expected: scikit-image with the settings of Wang et al. (2004).
        expected = structural_similarity(
            x[i],
            y[i],
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
            data_range=1.0,
            channel_axis=-1,
        )
        assert ours[i] == pytest.approx(expected, abs=1e-3)


def test_uint8_images_with_max_val_255_match_scikit_image():
    x = data.astronaut()[::4, ::4][:64, :64]
    y = np.clip(x.astype(int) + np.random.default_rng(2).integers(-30, 30, x.shape), 0, 255)
    y = y.astype("uint8")
    ours = float(kt.metrics.ssim(x[None], y[None], max_val=255)[0])
    expected = structural_similarity(
        x,
        y,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=255,
        channel_axis=-1,
    )
    assert ours == pytest.approx(expected, abs=1e-3)


def test_return_map_matches_scikit_image_full_map():
    x = _photos(("camera",), size=48)
    y = _distorted(x, seed=3)
    ours = np.asarray(kt.metrics.ssim(x.astype("float32"), y.astype("float32"), return_map=True))
    _, full = structural_similarity(
        x[0, ..., 0],
        y[0, ..., 0],
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=1.0,
        full=True,
    )
    # Expected: scikit-image's map without its 5-pixel border (where it pads by reflection).
    assert ours.shape == (1, 38, 38, 1)
    np.testing.assert_allclose(ours[0, ..., 0], full[5:-5, 5:-5], atol=1e-3)


def test_box_window_is_the_vid2depth_3x3_formula():
    rng = np.random.default_rng(4)
    x, y = rng.random((2, 12, 14, 3)), rng.random((2, 12, 14, 3))
    ours = np.asarray(kt.metrics.ssim(x, y, window="box", filter_size=3, return_map=True))

    # Expected: vid2depth's SSIM with 3x3 average pooling (VALID), written with SciPy.
    def pool(a):
        return uniform_filter(a, size=(1, 3, 3, 1), mode="constant")[:, 1:-1, 1:-1]

    c1, c2 = 0.01**2, 0.03**2
    mx, my = pool(x), pool(y)
    sx, sy, sxy = pool(x * x) - mx**2, pool(y * y) - my**2, pool(x * y) - mx * my
    expected = (2 * mx * my + c1) * (2 * sxy + c2) / ((mx**2 + my**2 + c1) * (sx + sy + c2))
    np.testing.assert_allclose(ours, expected, atol=1e-10)


@pytest.mark.parametrize("value", [0.0, 0.5, 1.0])
def test_identical_and_constant_images_give_one_with_finite_gradients(value):
    rng = np.random.default_rng(5)
    for image in (np.full((2, 16, 16, 3), value), rng.random((2, 16, 16, 3))):
        x = tf.constant(image, "float32")
        y = tf.constant(image, "float32")
        with tf.GradientTape() as tape:
            tape.watch([x, y])
            value_ssim = kt.metrics.ssim(x, y)
            loss = tf.reduce_sum(kt.losses.dssim(x, y, mask=tf.ones((2, 16, 16, 1))))
        np.testing.assert_allclose(value_ssim, [1.0, 1.0], atol=1e-6)
        for gradient in tape.gradient(loss, [x, y]):
            assert np.all(np.isfinite(gradient))


@pytest.mark.parametrize("window, size", [("gaussian", 11), ("gaussian", 7), ("box", 3)])
def test_gradient_matches_autodiff_of_a_plain_implementation(window, size):
    rng = np.random.default_rng(6)
    dtype = "float32" if window == "gaussian" else "float64"  # tf.image.ssim needs float32
    x = tf.constant(rng.random((2, 20, 24, 3)), dtype)
    y = tf.constant(rng.random((2, 20, 24, 3)), dtype)
    weights = tf.constant(rng.random((2, 20 - size + 1, 24 - size + 1)), dtype)
    if window == "gaussian":
        # Expected: TensorFlow's autodiff of tf.image.ssim's per-pixel map (channel mean).
        def reference(a, b):
            return tf.image.ssim(a, b, 1.0, filter_size=size, return_index_map=True)
    else:
        # Expected: autodiff of the vid2depth formula with average pooling.
        def reference(a, b):
            def pool(t):
                return tf.nn.avg_pool2d(t, 3, 1, "VALID")

            mx, my = pool(a), pool(b)
            sxy = pool(a * b) - mx * my
            s = pool(a * a) - mx**2 + pool(b * b) - my**2
            value = (2 * mx * my + 1e-4) * (2 * sxy + 9e-4)
            return tf.reduce_mean(value / ((mx**2 + my**2 + 1e-4) * (s + 9e-4)), axis=-1)

    with tf.GradientTape(persistent=True) as tape:
        tape.watch([x, y])
        ours_map = kt.metrics.ssim(x, y, filter_size=size, window=window, return_map=True)
        ours = tf.reduce_sum(tf.reduce_mean(ours_map, axis=-1) * weights)
        theirs = tf.reduce_sum(reference(x, y) * weights)
    # 3e-5: in float32, tf.image.ssim's weighted sum for size 7 is itself 1.9e-5 (relative)
    # from the same sum computed in float64, ours 3.5e-6 (measured); float64 agrees to 1e-12.
    np.testing.assert_allclose(
        float(ours), float(theirs), rtol=3e-5 if dtype == "float32" else 1e-9
    )
    tolerance = 1e-4 if dtype == "float32" else 1e-9
    for a, b in zip(tape.gradient(ours, [x, y]), tape.gradient(theirs, [x, y]), strict=True):
        np.testing.assert_allclose(a, b, rtol=tolerance, atol=tolerance * np.abs(b).max())


def test_mask_is_min_pooled_and_normalised_by_its_sum():
    rng = np.random.default_rng(7)
    x = rng.random((2, 20, 20, 3)).astype("float32")
    y = rng.random((2, 20, 20, 3)).astype("float32")
    mask = (rng.random((2, 20, 20, 1)) > 0.1).astype("float32")
    mask[:, :, :8] = 1.0
    ours = np.asarray(kt.losses.ssim_loss(x, y, mask=mask, filter_size=5))
    # Expected: 1 - SSIM from tf.image.ssim's map, averaged where the 5x5 minimum of the
    # mask (scipy.ndimage.minimum_filter, VALID part) is 1.
    # tf.image.ssim's map is the mean over channels, which the channel-broadcast mask keeps.
    ssim_map = tf.image.ssim(x, y, 1.0, filter_size=5, return_index_map=True).numpy()
    valid = minimum_filter(mask, size=(1, 5, 5, 1))[:, 2:-2, 2:-2, 0]
    expected = ((1 - ssim_map) * valid).sum(axis=(1, 2)) / valid.sum(axis=(1, 2))
    np.testing.assert_allclose(ours, expected, rtol=1e-5)
    np.testing.assert_allclose(
        kt.losses.dssim(x, y, mask[..., 0], filter_size=5), ours / 2, rtol=1e-6
    )


def test_all_zero_mask_gives_zero_loss_and_zero_finite_gradient():
    rng = np.random.default_rng(8)
    x = tf.constant(rng.random((1, 16, 16, 3)), "float32")
    y = tf.constant(rng.random((1, 16, 16, 3)), "float32")
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = kt.losses.SSIMLoss()(x, y, mask=tf.zeros((1, 16, 16, 1)))
    gradient = tape.gradient(loss, x)
    assert float(loss) == 0.0
    np.testing.assert_array_equal(gradient, 0.0)


def test_half_precision_is_computed_in_float32():
    rng = np.random.default_rng(9)
    x, y = rng.random((2, 16, 16, 3)), rng.random((2, 16, 16, 3))
    half = kt.metrics.ssim(x.astype("float16"), y.astype("float16"))
    assert half.dtype == tf.float16
    np.testing.assert_allclose(np.asarray(half, "float32"), kt.metrics.ssim(x, y), atol=2e-3)


def test_bad_arguments_raise():
    x = np.zeros((1, 8, 8, 1), "float32")
    with pytest.raises(ValueError, match="at least `filter_size` \\(11\\) pixels"):
        kt.metrics.ssim(x, x)
    with pytest.raises(ValueError, match="`window` must be one of 'gaussian', 'box'"):
        kt.metrics.ssim(x, x, window="disk")
    with pytest.raises(ValueError, match="`k1` must be > 0"):
        kt.losses.SSIMLoss(k1=0.0)
    with pytest.raises(ValueError, match="same height, width and channels"):
        kt.metrics.ssim(x, np.zeros((1, 8, 9, 1)), filter_size=3)
    with pytest.raises(TypeError, match="`filter_size` must be an integer"):
        kt.losses.DSSIM(filter_size=3.0)
    with pytest.raises(ValueError, match="`x` must have rank 4"):
        kt.metrics.ssim(x[0], x[0], filter_size=3)


@pytest.mark.parametrize("cls, scale", [(kt.losses.SSIMLoss, 1.0), (kt.losses.DSSIM, 0.5)])
def test_loss_classes_pass_the_loss_contract(cls, scale):
    rng = np.random.default_rng(10)
    y_true = rng.random((4, 12, 12, 3)).astype("float32")
    y_pred = np.clip(y_true + rng.normal(0, 0.1, y_true.shape), 0, 1).astype("float32")
    kwargs = dict(max_val=1.0, filter_size=5, filter_sigma=1.0, k1=0.01, k2=0.03, window="gaussian")
    # Expected per sample: (1 - tf.image.ssim) * scale, TensorFlow's SSIM.
    ssim = tf.image.ssim(y_true, y_pred, 1.0, filter_size=5, filter_sigma=1.0).numpy()
    run_loss_test(cls, kwargs, y_true, y_pred, (1 - ssim) * scale, atol=1e-5)
    run_loss_test(cls, {"window": "box", "filter_size": 3}, y_true, y_pred, run_training=False)


def test_function_and_class_of_each_pair_compute_one_quantity():
    rng = np.random.default_rng(11)
    x = rng.random((3, 16, 16, 2)).astype("float32")
    y = np.clip(x + rng.normal(0, 0.2, x.shape), 0, 1).astype("float32")
    kwargs = dict(window="box", filter_size=3)
    similarity = np.asarray(kt.metrics.ssim(x, y, **kwargs))
    # The loss pair is 1 - SSIM, the DSSIM pair (1 - SSIM) / 2, the metric the mean SSIM.
    np.testing.assert_allclose(kt.losses.ssim_loss(x, y, **kwargs), 1 - similarity, atol=1e-6)
    np.testing.assert_allclose(
        kt.losses.SSIMLoss(**kwargs, reduction=None)(x, y), 1 - similarity, atol=1e-6
    )
    np.testing.assert_allclose(kt.losses.dssim(x, y, **kwargs), (1 - similarity) / 2, atol=1e-6)
    metric = kt.metrics.SSIM(**kwargs)
    metric.update_state(x, y)
    np.testing.assert_allclose(float(metric.result()), similarity.mean(), atol=1e-6)


def test_deprecated_names_warn_naming_the_new_ones_and_compute_the_same():
    rng = np.random.default_rng(12)
    x, y = rng.random((2, 12, 12, 1)), rng.random((2, 12, 12, 1))
    with pytest.warns(
        DeprecationWarning, match="`kt.losses.ssim` is deprecated.*`kt.metrics.ssim`"
    ):
        old = kt.losses.ssim(x, y, filter_size=5)
    np.testing.assert_array_equal(old, kt.metrics.ssim(x, y, filter_size=5))
    with pytest.warns(DeprecationWarning, match="`kt.losses.SSIM` is deprecated.*SSIMLoss"):
        old_loss = kt.losses.SSIM(filter_size=5)
    assert type(old_loss) is kt.losses.SSIMLoss
    np.testing.assert_array_equal(old_loss(x, y), kt.losses.SSIMLoss(filter_size=5)(x, y))


def test_model_saved_with_the_old_ssim_loss_loads_as_ssim_loss():
    # Written by kerastricks 0.1.0 (main at 063f1da): Conv2D(1, 1) with kernel 1, compiled
    # with loss=kt.losses.SSIM(window="box", filter_size=3, max_val=2.0), the loss
    # registered as "kerastricks>SSIM", the name the metric `kt.metrics.SSIM` now holds.
    path = os.path.join(os.path.dirname(__file__), "data", "ssim_loss_model_0_1.keras")
    with pytest.warns(DeprecationWarning, match="kt.losses.SSIMLoss"):
        model = keras.saving.load_model(path, safe_mode=True)
    assert type(model.loss) is kt.losses.SSIMLoss
    assert (model.loss.max_val, model.loss.window, model.loss.filter_size) == (2.0, "box", 3)
    rng = np.random.default_rng(13)
    x, y = rng.random((2, 8, 8, 1)).astype("float32"), rng.random((2, 8, 8, 1)).astype("float32")
    expected = 1 - np.asarray(kt.metrics.ssim(x, y, max_val=2.0, window="box", filter_size=3))
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0), expected.mean(), atol=1e-6)


def test_strings_raise_type_error_and_uint8_with_unit_range_warns():
    with pytest.raises(TypeError, match="`x` must be a numeric image batch.*Received: x='img'"):
        kt.metrics.ssim("img", "img")
    with pytest.raises(TypeError, match="`y` must be a numeric image batch.*bool"):
        kt.metrics.ssim(np.zeros((1, 4, 4, 1)), np.zeros((1, 4, 4, 1), bool), filter_size=3)
    photo = data.camera()[:64, :64, None][None]  # uint8 in [0, 255]
    noisy = np.clip(photo + 40.0 * np.random.default_rng(14).random(photo.shape), 0, 255)
    noisy = noisy.astype("uint8")
    with pytest.warns(UserWarning, match="integer \\(uint8\\) images but `max_val=1.0`"):
        kt.metrics.ssim(photo, noisy)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the right range: silent
        kt.metrics.ssim(photo, noisy, max_val=255)
