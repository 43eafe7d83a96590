import keras
import numpy as np
import pytest

import kerastricks as kt
from tests.helpers import assert_copied
from tests.layers.test_color_propagation import numpy_attention

pytestmark = pytest.mark.backend_independent


def video(seed=0, steps=5, size=4, channels=3, classes=3):
    rng = np.random.default_rng(seed)
    frames = rng.uniform(size=(steps, size, size, channels)).astype("float32")
    mask = rng.dirichlet(np.ones(classes), size=(size, size)).astype("float32")
    return frames, mask


def test_matches_a_numpy_loop_over_frames_with_past_references():
    frames, mask = video()
    pointer = kt.layers.ColorPropagation(0.5)
    masks = kt.tracking.propagate_masks(
        lambda x: 2.0 * x, frames, mask, pointer, num_references=2, keep_first=True
    )
    # Expected: frame t copies from frames {0, t-2, t-1} and their labels (frame 0: the
    # given mask, later ones: the loop's own predictions), with NumPy attention.
    embeddings = 2.0 * frames
    labels = [mask]
    for t in range(1, 5):
        refs = sorted({0, max(0, t - 2), t - 1})
        out = numpy_attention(
            embeddings[t][None],
            embeddings[refs][None],
            np.stack([labels[i] for i in refs])[None],
            0.5,
        )
        labels.append(out[0])
    np.testing.assert_allclose(masks, np.stack(labels), rtol=1e-5, atol=1e-6)


def test_without_the_first_frame_only_recent_frames_are_used():
    frames, mask = video(seed=1)
    masks = kt.tracking.propagate_masks(
        lambda x: x, frames, mask, kt.layers.ColorPropagation(0.3, 1), 1, keep_first=False
    )
    # Expected: a chain of one-step NumPy windowed attention, frame t-1 to frame t.
    labels = [mask]
    for t in range(1, 5):
        out = numpy_attention(
            frames[t][None], frames[t - 1][None, None], labels[-1][None, None], 0.3, radius=1
        )
        labels.append(out[0])
    np.testing.assert_allclose(masks, np.stack(labels), rtol=1e-5, atol=1e-6)


def test_a_batch_of_videos_equals_videos_one_by_one():
    first, mask_a = video(seed=2)
    second, mask_b = video(seed=3)
    pointer = kt.layers.ColorPropagation(0.5, window_radius=2)
    batch = kt.tracking.propagate_masks(
        lambda x: x, np.stack([first, second]), np.stack([mask_a, mask_b]), pointer, 2
    )
    for i, (frames, mask) in enumerate([(first, mask_a), (second, mask_b)]):
        one = kt.tracking.propagate_masks(lambda x: x, frames, mask, pointer, 2)
        np.testing.assert_allclose(batch[i], one, rtol=1e-6, atol=1e-7)


def test_a_translated_texture_carries_its_mask_exactly():
    rng = np.random.default_rng(4)
    image = rng.uniform(size=(6, 6, 3)).astype("float32")
    frames = np.stack([np.roll(image, t, axis=1) for t in range(4)])  # 1 px right per frame
    labels = rng.integers(0, 3, size=(6, 6))
    mask = np.eye(3, dtype="float32")[labels]
    pointer = kt.layers.ColorPropagation(1e-6, similarity="euclidean")
    masks = kt.tracking.propagate_masks(lambda x: x, frames, mask, pointer)
    # Expected: the mask rolled with the image (every pixel has an exact twin).
    for t in range(4):
        assert_copied(masks[t], np.roll(mask, t, axis=1))


def test_strided_embeddings_give_masks_at_frame_size():
    rng = np.random.default_rng(5)
    frame = rng.normal(size=(8, 8, 8)).astype("float32")  # pooled pixels stay far apart
    frames = np.stack([frame] * 3)  # a static video
    blocks = np.kron(np.array([[0, 1], [2, 0]]), np.ones((4, 4), int))
    mask = np.eye(3, dtype="float32")[blocks]
    pool = keras.layers.AveragePooling2D(2)  # embeddings at 4x4
    pointer = kt.layers.ColorPropagation(1e-4, similarity="euclidean")
    masks = kt.tracking.propagate_masks(pool, frames, mask, pointer)
    assert masks.shape == (3, 8, 8, 3)
    assert_copied(masks[0], mask)
    np.testing.assert_allclose(masks.sum(-1), 1.0, atol=1e-5)
    # A static video keeps its (block-aligned) labels through downsampling and back.
    np.testing.assert_array_equal(masks.argmax(-1), np.stack([blocks] * 3))


def test_bad_arguments_raise():
    frames, mask = video()
    identity = lambda x: x  # noqa: E731
    with pytest.raises(ValueError, match="T >= 2"):
        kt.tracking.propagate_masks(identity, frames[:1], mask)
    with pytest.raises(ValueError, match="frames.shape"):
        kt.tracking.propagate_masks(identity, frames[0, 0], mask)
    with pytest.raises(ValueError, match="first_mask"):
        kt.tracking.propagate_masks(identity, frames, mask[:2])
    with pytest.raises(ValueError, match="num_references"):
        kt.tracking.propagate_masks(identity, frames, mask, num_references=0)
    with pytest.raises(TypeError, match="propagation"):
        kt.tracking.propagate_masks(identity, frames, mask, propagation="softmax")
    with pytest.raises(TypeError, match="keep_first"):
        kt.tracking.propagate_masks(identity, frames, mask, keep_first=1)
    with pytest.raises(ValueError, match="embeddings"):
        kt.tracking.propagate_masks(lambda x: x[..., 0], frames, mask)
