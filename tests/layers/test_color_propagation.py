import keras
import numpy as np
import pytest
import tensorflow as tf

import kerastricks as kt
from tests.helpers import assert_copied, run_layer_test


def numpy_attention(target, reference, labels, temperature, radius=None, euclidean=False):
    """Softmax attention written out pixel by pixel, in float64.

    target [B, H, W, D], reference [B, R, H', W', D], labels [B, R, H', W', K]. With
    `radius`, only reference pixels with |dy| <= radius and |dx| <= radius of the target
    pixel's position take part.
    """
    target, reference, labels = (np.asarray(a, np.float64) for a in (target, reference, labels))
    batch, height, width, _ = target.shape
    frames, ref_height, ref_width = reference.shape[1:4]
    out = np.zeros((batch, height, width, labels.shape[-1]))
    for b in range(batch):
        for i in range(height):
            for j in range(width):
                logits, values = [], []
                for f in range(frames):
                    for y in range(ref_height):
                        for x in range(ref_width):
                            if radius is not None and max(abs(y - i), abs(x - j)) > radius:
                                continue
                            t, r = target[b, i, j], reference[b, f, y, x]
                            similarity = -np.sum((t - r) ** 2) if euclidean else t @ r
                            logits.append(similarity / temperature)
                            values.append(labels[b, f, y, x])
                logits = np.array(logits)
                weights = np.exp(logits - logits.max())
                out[b, i, j] = (weights / weights.sum()) @ np.array(values)
    return out


def random_inputs(seed=0, batch=2, frames=2, height=4, width=5, depth=3, channels=4):
    rng = np.random.default_rng(seed)
    target = rng.normal(size=(batch, height, width, depth)).astype("float32")
    reference = rng.normal(size=(batch, frames, height, width, depth)).astype("float32")
    labels = rng.uniform(size=(batch, frames, height, width, channels)).astype("float32")
    return target, reference, labels


@pytest.mark.parametrize("similarity", ["dot", "euclidean"])
@pytest.mark.parametrize("temperature", [0.3, 1.0, 4.0])
def test_full_attention_matches_numpy_softmax_attention(similarity, temperature):
    target, reference, labels = random_inputs(seed=1)
    layer = kt.layers.ColorPropagation(temperature=temperature, similarity=similarity)
    out = np.asarray(layer([target, reference, labels]))
    # Expected: the pixel-by-pixel NumPy softmax attention above.
    expected = numpy_attention(
        target, reference, labels, temperature, euclidean=similarity == "euclidean"
    )
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("radius", [0, 1, 2, 6])
@pytest.mark.parametrize("similarity", ["dot", "euclidean"])
def test_windowed_attention_matches_numpy_windowed_reference(radius, similarity):
    target, reference, labels = random_inputs(seed=2, height=5, width=6)
    layer = kt.layers.ColorPropagation(0.5, window_radius=radius, similarity=similarity)
    out = np.asarray(layer([target, reference, labels]))
    # Expected: NumPy attention restricted to the (2r+1)^2 window, border pixels included.
    expected = numpy_attention(
        target, reference, labels, 0.5, radius=radius, euclidean=similarity == "euclidean"
    )
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


def test_windowed_attention_with_unknown_frame_size_matches_numpy():
    # Frames of unknown height and width take the shifted-slices path, not the tiles.
    target, reference, labels = random_inputs(seed=4, height=9, width=7)
    layer = kt.layers.ColorPropagation(0.5, window_radius=2)
    call = tf.function(
        lambda a, b, c: layer([a, b, c]),
        input_signature=[
            tf.TensorSpec((None, None, None, 3)),
            tf.TensorSpec((None, 2, None, None, 3)),
            tf.TensorSpec((None, 2, None, None, 4)),
        ],
    )
    # Expected: the NumPy windowed attention; the static-shape (tiled) call agrees too.
    expected = numpy_attention(target, reference, labels, 0.5, radius=2)
    np.testing.assert_allclose(call(target, reference, labels), expected, rtol=1e-5, atol=1e-6)
    tiled = np.asarray(layer([target, reference, labels]))
    np.testing.assert_allclose(tiled, expected, rtol=1e-5, atol=1e-6)


def test_window_covering_the_frame_equals_full_attention():
    target, reference, labels = random_inputs(seed=3, height=4, width=4)
    full = kt.layers.ColorPropagation(0.7)([target, reference, labels])
    # A radius of 3 reaches every pixel of a 4x4 frame from every position.
    windowed = kt.layers.ColorPropagation(0.7, window_radius=3)([target, reference, labels])
    np.testing.assert_allclose(np.asarray(windowed), np.asarray(full), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("radius", [None, 2])
def test_small_temperature_copies_the_nearest_reference_pixel_exactly(radius):
    rng = np.random.default_rng(4)
    target, reference, labels = random_inputs(seed=4, height=5, width=5)
    labels = rng.integers(0, 10, size=labels.shape).astype("float32")
    out = np.asarray(
        kt.layers.ColorPropagation(1e-6, radius, "euclidean")([target, reference, labels])
    )
    # Expected: the label of the nearest reference pixel (brute-force argmin of distances
    # in NumPy), copied bit for bit.
    expected = np.zeros(out.shape, np.float32)
    for b in range(2):
        for i in range(5):
            for j in range(5):
                best, best_distance = None, np.inf
                for f in range(2):
                    for y in range(5):
                        for x in range(5):
                            if radius is not None and max(abs(y - i), abs(x - j)) > radius:
                                continue
                            d = np.sum((target[b, i, j] - reference[b, f, y, x]) ** 2)
                            if d < best_distance:
                                best, best_distance = labels[b, f, y, x], d
                expected[b, i, j] = best
    assert_copied(out, expected)


def test_small_temperature_dot_product_copies_the_most_similar_pixel():
    target, reference, labels = random_inputs(seed=5)
    out = np.asarray(kt.layers.ColorPropagation(1e-6)([target, reference, labels]))
    # Expected: labels at the argmax of the dot products (NumPy einsum), exactly.
    scores = np.einsum("bhwd,brxyd->bhwrxy", target, reference).reshape(2, 4, 5, -1)
    flat_labels = labels.reshape(2, -1, labels.shape[-1])
    expected = np.take_along_axis(flat_labels[:, None, None], scores.argmax(-1)[..., None, None], 3)
    assert_copied(out, expected[:, :, :, 0])


def test_one_reference_frame_may_drop_the_frame_axis():
    target, reference, labels = random_inputs(seed=6, frames=1)
    layer = kt.layers.ColorPropagation(0.5)
    with_axis = layer([target, reference, labels])
    without = kt.layers.ColorPropagation(0.5)([target, reference[:, 0], labels[:, 0]])
    np.testing.assert_array_equal(np.asarray(with_axis), np.asarray(without))


def test_full_attention_accepts_a_reference_of_another_size():
    target, _, _ = random_inputs(seed=7, height=3, width=4)
    _, reference, labels = random_inputs(seed=8, height=6, width=2)
    out = np.asarray(kt.layers.ColorPropagation(0.5)([target, reference, labels]))
    # Expected: NumPy attention over all 2 x 6 x 2 reference pixels.
    np.testing.assert_allclose(out, numpy_attention(target, reference, labels, 0.5), atol=1e-6)


def test_probabilities_stay_probabilities_and_constant_embeddings_average():
    target, reference, _ = random_inputs(seed=9)
    rng = np.random.default_rng(9)
    one_hot = np.eye(4, dtype="float32")[rng.integers(0, 4, size=(2, 2, 4, 5))]
    out = np.asarray(kt.layers.ColorPropagation(0.1)([target, reference, one_hot]))
    np.testing.assert_allclose(out.sum(-1), 1.0, atol=1e-5)
    # Constant (zero) embeddings: every weight equal, the output is the mean label.
    zeros = kt.layers.ColorPropagation(0.1, window_radius=10)(
        [np.zeros_like(target), np.zeros_like(reference), one_hot]
    )
    expected = np.broadcast_to(one_hot.mean(axis=(1, 2, 3))[:, None, None], (2, 4, 5, 4))
    np.testing.assert_allclose(np.asarray(zeros), expected, atol=1e-6)


@pytest.mark.parametrize("radius", [None, 1])
@pytest.mark.parametrize("similarity", ["dot", "euclidean"])
def test_gradients_are_finite_and_match_finite_differences(radius, similarity):
    target, reference, labels = random_inputs(seed=10, batch=1, frames=2, height=3, width=3)
    target, reference, labels = (tf.constant(a, tf.float64) for a in (target, reference, labels))
    layer = kt.layers.ColorPropagation(0.5, radius, similarity, dtype="float64")
    with tf.GradientTape() as tape:
        tape.watch([target, reference, labels])
        loss = tf.reduce_sum(layer([target, reference, labels]) ** 2)
    gradients = [g.numpy() for g in tape.gradient(loss, [target, reference, labels])]
    assert all(np.all(np.isfinite(g)) for g in gradients)
    # Expected: central finite differences of the NumPy reference (float64), step 1e-6,
    # for one entry of each input: truncation error ~1e-12 and rounding ~1e-16 / 1e-6 =
    # 1e-10 relative to losses of order 1, far inside rtol=1e-5.
    arrays = [a.numpy() for a in (target, reference, labels)]
    euclidean = similarity == "euclidean"
    for which, index in ((0, (0, 1, 2, 0)), (1, (0, 1, 1, 2, 1)), (2, (0, 0, 1, 1, 3))):
        step, plus, minus = 1e-6, [a.copy() for a in arrays], [a.copy() for a in arrays]
        plus[which][index] += step
        minus[which][index] -= step
        loss_plus = np.sum(numpy_attention(*plus, 0.5, radius, euclidean) ** 2)
        loss_minus = np.sum(numpy_attention(*minus, 0.5, radius, euclidean) ** 2)
        numeric = (loss_plus - loss_minus) / (2 * step)
        np.testing.assert_allclose(gradients[which][index], numeric, rtol=1e-5, atol=1e-8)


def test_tiny_temperature_keeps_outputs_and_gradients_finite():
    target, reference, labels = random_inputs(seed=11)
    target = tf.constant(target * 1e3)
    with tf.GradientTape() as tape:
        tape.watch(target)
        out = kt.layers.ColorPropagation(1e-6, window_radius=1)([target, reference, labels])
    assert np.all(np.isfinite(out.numpy()))
    assert np.all(np.isfinite(tape.gradient(out, target).numpy()))


# The layer has no weights of its own, so the helper's fit step warns about that.
@pytest.mark.filterwarnings("ignore:The model does not have any trainable weights")
@pytest.mark.parametrize(
    "init_kwargs",
    [
        {"temperature": 0.5, "window_radius": None, "similarity": "dot"},
        {"temperature": 2.0, "window_radius": 1, "similarity": "euclidean"},
    ],
)
def test_layer_contract(init_kwargs):
    target, reference, labels = random_inputs(seed=12, height=4, width=4)
    # Expected: the NumPy attention.
    expected = numpy_attention(
        target,
        reference,
        labels,
        init_kwargs["temperature"],
        init_kwargs["window_radius"],
        init_kwargs["similarity"] == "euclidean",
    )
    run_layer_test(
        kt.layers.ColorPropagation,
        init_kwargs,
        [target, reference, labels],
        expected_output=expected.astype("float32"),
        atol=1e-5,
        rtol=1e-5,
    )


def test_embeddings_train_through_the_pointer_under_jit():
    target, reference, labels = random_inputs(seed=13, frames=1, height=4, width=4)
    a, b, c = keras.Input((4, 4, 3)), keras.Input((1, 4, 4, 3)), keras.Input((1, 4, 4, 4))
    dense = keras.layers.Dense(3)
    out = kt.layers.ColorPropagation(window_radius=1)([dense(a), dense(b), c])
    model = keras.Model([a, b, c], out)
    model.compile("sgd", "mse", jit_compile=True)
    before = dense.kernel.numpy().copy()
    history = model.fit([target, reference, labels], labels[:, 0] * 0, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    assert not np.allclose(dense.kernel.numpy(), before)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="temperature"):
        kt.layers.ColorPropagation(temperature=0.0)
    with pytest.raises(TypeError, match="temperature"):
        kt.layers.ColorPropagation(temperature="1")
    with pytest.raises(ValueError, match="window_radius"):
        kt.layers.ColorPropagation(window_radius=-1)
    with pytest.raises(TypeError, match="window_radius"):
        kt.layers.ColorPropagation(window_radius=1.5)
    with pytest.raises(ValueError, match="similarity"):
        kt.layers.ColorPropagation(similarity="cosine")


def test_bad_shapes_raise_at_build():
    target, reference, labels = random_inputs(seed=14)
    with pytest.raises(ValueError, match="list"):
        kt.layers.ColorPropagation()(target)
    with pytest.raises(ValueError, match="`target` must have rank 4"):
        kt.layers.ColorPropagation()([target[0], reference, labels])
    with pytest.raises(ValueError, match="same depth"):
        kt.layers.ColorPropagation()([target[..., :2], reference, labels])
    with pytest.raises(ValueError, match="one label vector per reference pixel"):
        kt.layers.ColorPropagation()([target, reference, labels[:, :, :3]])
    with pytest.raises(ValueError, match="same height and width"):
        kt.layers.ColorPropagation(window_radius=1)([target, reference[:, :, :3], labels[:, :, :3]])
