import os
import tempfile

import keras
import numpy as np
import pytest
import skimage.color
import skimage.data
import tensorflow as tf

import kerastricks as kt
from kerastricks.layers._color_space import lab_to_rgb, rgb_to_lab
from tests.helpers import run_layer_test


def photographs():
    """Three bundled scikit-image photographs, every 4th pixel, as floats in [0, 1]."""
    images = [skimage.data.astronaut(), skimage.data.chelsea(), skimage.data.coffee()]
    return [np.asarray(image[::4, ::4], np.float32) / 255.0 for image in images]


def nearest(points, centroids):
    """Index of the nearest centroid and the distance to it (NumPy, float64)."""
    d = np.sqrt(((points[:, None, :] - centroids[None]) ** 2).sum(-1))
    return d.argmin(-1), d.min(-1)


def test_color_conversion_matches_scikit_image():
    rng = np.random.default_rng(0)
    rgb = rng.uniform(size=(500, 3))
    rgb[:4] = [[0, 0, 0], [1, 1, 1], [0.001, 0.002, 0.03], [1, 0, 0]]
    # Expected: skimage.color.rgb2lab / lab2rgb (D65, 2 degrees).
    np.testing.assert_allclose(np.asarray(rgb_to_lab(rgb)), skimage.color.rgb2lab(rgb), atol=2e-4)
    lab = skimage.color.rgb2lab(rgb)
    np.testing.assert_allclose(np.asarray(lab_to_rgb(lab)), skimage.color.lab2rgb(lab), atol=2e-5)


@pytest.mark.parametrize("color_space", ["ab", "lab"])
def test_round_trip_on_photographs_stays_within_the_reported_error(color_space):
    images = photographs()
    quantizer = kt.layers.ColorQuantizer(16, color_space=color_space, seed=0)
    quantizer.adapt(np.concatenate([im.reshape(-1, 3) for im in images]))
    assert quantizer.quantization_error > 0
    assert quantizer.max_quantization_error >= quantizer.quantization_error
    distances = []
    for image in images:
        decoded = np.asarray(quantizer.decode(quantizer(image[None])))[0]
        # Expected colors: scikit-image's Lab of the photograph, in the quantized space.
        lab = skimage.color.rgb2lab(image)
        original = lab[..., 1:] if color_space == "ab" else lab
        distances.append(np.sqrt(((decoded - original) ** 2).sum(-1)).ravel())
    distances = np.concatenate(distances)
    # The round trip's error is the error `adapt` reported: mean equal up to float32
    # rounding, and no pixel further from its decoded color than the reported maximum.
    np.testing.assert_allclose(distances.mean(), quantizer.quantization_error, rtol=1e-4)
    assert distances.max() <= quantizer.max_quantization_error + 1e-3
    measured = quantizer.measure_error(images[0])
    np.testing.assert_allclose(measured["mean"], distances[: images[0][..., 0].size].mean(), 1e-4)


def test_decoding_picks_the_nearest_centroid_and_adds_lightness():
    image = photographs()[1]
    quantizer = kt.layers.ColorQuantizer(8, seed=1)
    quantizer.adapt(image)
    indices = np.asarray(quantizer(image))
    lab = skimage.color.rgb2lab(image).reshape(-1, 3)
    # Expected: NumPy nearest centroid of scikit-image's (a, b); ties may differ by
    # float32 rounding, so allow a handful of pixels out of 12288.
    expected, _ = nearest(lab[:, 1:], np.asarray(quantizer.centroids))
    assert np.mean(indices.ravel() != expected) < 1e-3
    full = np.asarray(quantizer.decode(indices, lightness=lab[:, 0].reshape(indices.shape)))
    np.testing.assert_allclose(full[..., 0].ravel(), lab[:, 0], rtol=1e-6)


def test_k_means_finds_well_separated_colors_exactly():
    palette = np.array([[0.9, 0.1, 0.1], [0.1, 0.8, 0.2], [0.1, 0.2, 0.9]])
    rng = np.random.default_rng(2)
    pixels = palette[rng.integers(0, 3, size=(40, 40))]
    quantizer = kt.layers.ColorQuantizer(3, color_space="lab", seed=0)
    quantizer.adapt(pixels)
    # Expected: the Lab colors of the palette (scikit-image), in some order; error 0.
    expected = skimage.color.rgb2lab(palette)
    found = np.asarray(quantizer.centroids)
    order = [int(np.argmin(((found - e) ** 2).sum(-1))) for e in expected]
    np.testing.assert_allclose(found[order], expected, atol=2e-3)
    assert quantizer.quantization_error < 2e-3 and quantizer.max_quantization_error < 2e-3


def test_more_colors_give_a_smaller_error():
    image = photographs()[2]
    errors = []
    for num_colors in (2, 8, 32):
        quantizer = kt.layers.ColorQuantizer(num_colors, seed=0)
        quantizer.adapt(image)
        errors.append(quantizer.quantization_error)
    assert errors[0] > errors[1] > errors[2]


def test_one_hot_mode_and_lab_inputs_agree_with_int_mode():
    image = photographs()[0][:20, :20]
    quantizer = kt.layers.ColorQuantizer(6, seed=3)
    quantizer.adapt(image)
    indices = np.asarray(quantizer(image))
    config = dict(quantizer.get_config(), output_mode="one_hot")
    one_hot = np.asarray(kt.layers.ColorQuantizer.from_config(config)(image))
    np.testing.assert_array_equal(one_hot, np.eye(6, dtype="float32")[indices])
    lab_config = dict(quantizer.get_config(), input_space="lab")
    lab_quantizer = kt.layers.ColorQuantizer.from_config(lab_config)
    from_lab = np.asarray(lab_quantizer(skimage.color.rgb2lab(image).astype("float32")))
    assert np.mean(from_lab != indices) < 5e-3  # float32 vs float64 conversion at ties


def test_categories_do_not_depend_on_the_precision_policy():
    image = photographs()[0][:64, :64]
    quantizer = kt.layers.ColorQuantizer(16, seed=0)
    quantizer.adapt(image)
    mixed = kt.layers.ColorQuantizer.from_config(
        dict(quantizer.get_config(), dtype="mixed_float16", output_mode="one_hot")
    )
    out = mixed(image[None])
    assert keras.backend.standardize_dtype(out.dtype) == "float16"
    # Expected: the float32 layer's categories, pixel for pixel.
    np.testing.assert_array_equal(np.asarray(out).argmax(-1), quantizer(image[None]))


@pytest.mark.tensorflow
def test_adapt_accepts_a_dataset_and_can_follow_build():
    image = photographs()[1][:32, :32]
    quantizer = kt.layers.ColorQuantizer(4, seed=0)
    inputs = keras.Input((32, 32, 3))
    model = keras.Model(inputs, quantizer(inputs))  # built before adapt
    quantizer.adapt(tf.data.Dataset.from_tensor_slices(image[None]).batch(1))
    reference = kt.layers.ColorQuantizer(4, seed=0)
    reference.adapt(image)
    np.testing.assert_allclose(quantizer.centroids, reference.centroids, atol=1e-5)
    np.testing.assert_array_equal(model(image[None]), reference(image[None]))


def test_saved_model_keeps_centroids_and_error():
    image = photographs()[2][:24, :24]
    quantizer = kt.layers.ColorQuantizer(5, seed=0)
    quantizer.adapt(image)
    inputs = keras.Input((24, 24, 3))
    model = keras.Model(inputs, quantizer(inputs))
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.keras")
        model.save(path)
        loaded = keras.saving.load_model(path, safe_mode=True)
    layer = loaded.layers[-1]
    np.testing.assert_array_equal(loaded(image[None]), model(image[None]))
    np.testing.assert_allclose(layer.centroids, quantizer.centroids)
    assert layer.quantization_error == pytest.approx(quantizer.quantization_error, rel=1e-6)
    revived = kt.layers.ColorQuantizer.from_config(quantizer.get_config())
    assert revived.quantization_error is None  # the config holds centroids, not statistics
    np.testing.assert_array_equal(revived(image), quantizer(image))


# The layer's centroids are not trainable, so the helper's fit step warns about that.
@pytest.mark.filterwarnings("ignore:The model does not have any trainable weights")
@pytest.mark.parametrize("output_mode", ["int", "one_hot"])
def test_layer_contract(output_mode):
    rng = np.random.default_rng(4)
    centroids = rng.uniform(-60, 60, size=(4, 2))
    images = rng.uniform(size=(2, 3, 3, 3)).astype("float32")
    # Expected: nearest centroid of scikit-image's (a, b), by NumPy brute force.
    index, _ = nearest(skimage.color.rgb2lab(images).reshape(-1, 3)[:, 1:], centroids)
    expected = index.reshape(2, 3, 3).astype("int32")
    if output_mode == "one_hot":
        expected = np.eye(4, dtype="float32")[expected]
    run_layer_test(
        kt.layers.ColorQuantizer,
        {"num_colors": 4, "centroids": centroids.tolist(), "output_mode": output_mode},
        images,
        expected_output=expected,
        # Integer indices cannot be fitted with MSE (and carry no gradient); the one-hot
        # mode runs the fit steps, compiled and in mixed precision.
        run_training=output_mode != "int",
    )


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="num_colors"):
        kt.layers.ColorQuantizer(0)
    with pytest.raises(TypeError, match="num_colors"):
        kt.layers.ColorQuantizer(2.5)
    with pytest.raises(ValueError, match="color_space"):
        kt.layers.ColorQuantizer(color_space="rgb")
    with pytest.raises(ValueError, match="output_mode"):
        kt.layers.ColorQuantizer(output_mode="multi_hot")
    with pytest.raises(ValueError, match=r"centroids.shape=\(2, 3\)"):
        kt.layers.ColorQuantizer(2, centroids=np.zeros((2, 3)))
    with pytest.raises(ValueError, match="finite"):
        kt.layers.ColorQuantizer(1, centroids=[[np.nan, 0.0]])


def test_misuse_raises():
    images = np.zeros((1, 4, 4, 3), "float32")
    with pytest.raises(ValueError, match="adapt"):
        kt.layers.ColorQuantizer(2)(images)
    with pytest.raises(ValueError, match="3 channels"):
        kt.layers.ColorQuantizer(1, centroids=[[0.0, 0.0]])(images[..., :2])
    with pytest.raises(ValueError, match="at least num_colors=32"):
        kt.layers.ColorQuantizer(32).adapt(images)
    with pytest.raises(ValueError, match="lightness"):
        kt.layers.ColorQuantizer(1, "lab", centroids=[[50.0, 0.0, 0.0]]).decode(
            np.zeros(2, "int32"), lightness=np.zeros(2)
        )
