"""Track by copying: propagate the first frame's masks with a colorization pointer."""

import numpy as np
from keras import ops

from kerastricks._checks import check_int, check_type, fail
from kerastricks.tracking.copy_labels import copy_labels

__all__ = ["propagate_masks"]


def propagate_masks(
    model,
    frames,
    first_mask,
    propagation=None,
    num_references: int = 1,
    keep_first: bool = True,
) -> np.ndarray:
    """Propagates the first frame's masks through a video, one frame at a time.

    The test-time half of Vondrick et al.: the embedding network trained to colorize
    (`model`) embeds every frame; then, for `t = 1, 2, ...`, the masks of frame `t` are
    copied from reference frames by `propagation` (`kt.tracking.copy_labels`): the
    `num_references` frames just before `t` with the masks this function predicted for
    them, plus, with `keep_first=True`, frame 0 with `first_mask` (the only given
    labels). Masks are any per-pixel vectors: one-hot object labels (background
    included), soft masks, keypoint heatmaps.

    When `model` returns embeddings smaller than the frames (a strided network), the
    masks are resized to the embedding size (area averaging), propagated there, and the
    predictions resized back to the frame size (bilinear); references use the
    embedding-size predictions, so nothing is resampled twice.

    Reference:
        Vondrick et al., "Tracking Emerges by Colorizing Videos" (ECCV 2018).

    Args:
        model: a callable (a Keras model, or a function) mapping frames
            `[N, H, W, C]` to embeddings `[N, h, w, D]`.
        frames: one video `[T, H, W, C]`, or a batch of videos `[B, T, H, W, C]`, as
            `model` expects them.
        first_mask: the labels of frame 0, `[H, W, K]` (or `[B, H, W, K]` for a batch).
        propagation: a callable on `[target, reference, labels]` that copies the labels,
            such as a `kt.layers.ColorPropagation` (its temperature, window and
            similarity). Defaults to `None`: `kt.tracking.copy_labels` with its defaults.
        num_references: how many of the most recent past frames serve as references,
            `>= 1`. Defaults to 1.
        keep_first: also use frame 0 and `first_mask` as a reference at every step.
            Defaults to `True`.

    Returns:
        Float32 NumPy masks `[T, H, W, K]` (or `[B, T, H, W, K]`), frame 0 being
        `first_mask`. Take `argmax` over the last axis for label maps.

    Raises:
        TypeError: `propagation` is not callable, or `keep_first` not a bool.
        ValueError: `frames` or `first_mask` of the wrong rank or size, fewer than 2
            frames, `num_references < 1`, or embeddings that are not `[N, h, w, D]`.

    Example:

    >>> import numpy as np
    >>> import kerastricks as kt
    >>> frames = np.zeros((3, 1, 4, 1), "float32")      # a dot moving right, 1 px/frame
    >>> for t in range(3):
    ...     frames[t, 0, t] = 1.0
    >>> mask = np.stack([1 - frames[0, ..., 0], frames[0, ..., 0]], -1)  # [1, 4, 2]
    >>> embed = lambda x: x                             # raw pixels as embeddings
    >>> pointer = kt.layers.ColorPropagation(0.01, window_radius=1, similarity="euclidean")
    >>> masks = kt.tracking.propagate_masks(embed, frames, mask, pointer)
    >>> masks.argmax(-1)[:, 0]                           # object label per pixel
    array([[1, 0, 0, 0],
           [0, 1, 0, 0],
           [0, 0, 1, 0]])
    """
    if propagation is None:
        propagation = _default_propagation
    elif not callable(propagation):
        fail(
            "`propagation` must be callable on [target, reference, labels], such as a "
            "kt.layers.ColorPropagation.",
            "propagation",
            propagation,
            TypeError,
        )
    num_references = check_int("num_references", num_references, minimum=1)
    check_type("keep_first", keep_first, bool, "a bool")
    frames = np.asarray(ops.convert_to_numpy(frames))
    first_mask = np.asarray(ops.convert_to_numpy(first_mask), "float32")
    single = frames.ndim == 4
    if single:
        frames, first_mask = frames[None], first_mask[None]
    if frames.ndim != 5 or frames.shape[1] < 2:
        fail(
            "`frames` must be one video [T, H, W, C] or a batch [B, T, H, W, C], with T >= 2.",
            "frames.shape",
            frames.shape,
        )
    batch, steps, height, width = frames.shape[:4]
    if first_mask.shape[:3] != (batch, height, width) or first_mask.ndim != 4:
        fail(
            f"`first_mask` must be [H, W, K] (or [B, H, W, K]) for frames of {height}x{width}.",
            "first_mask.shape",
            first_mask.shape[1:] if single else first_mask.shape,
        )

    embeddings = ops.convert_to_numpy(model(frames.reshape((-1,) + frames.shape[2:])))
    if embeddings.ndim != 4 or embeddings.shape[0] != batch * steps:
        fail(
            "`model` must return embeddings [N, h, w, D] for frames [N, H, W, C].",
            "embeddings.shape",
            embeddings.shape,
        )
    embeddings = embeddings.reshape((batch, steps) + embeddings.shape[1:])
    small = embeddings.shape[2:4]
    resized = small != (height, width)

    labels = [_area_resize(first_mask, small) if resized else first_mask]
    outputs = [first_mask]
    for t in range(1, steps):
        indices = list(range(max(0, t - num_references), t))
        if keep_first and 0 not in indices:
            indices = [0] + indices
        prediction = propagation(
            [embeddings[:, t], embeddings[:, indices], np.stack([labels[i] for i in indices], 1)]
        )
        prediction = np.asarray(ops.convert_to_numpy(prediction), "float32")
        labels.append(prediction)
        outputs.append(_resize(prediction, (height, width), "bilinear") if resized else prediction)
    masks = np.stack(outputs, axis=1)
    return masks[0] if single else masks


def _area_resize(masks, size):
    """Area averaging of `masks` `[B, H, W, K]` to `size`: each output cell is the mean of
    the input pixels it covers, weighted by the covered fraction (TensorFlow's `"area"`,
    which other Keras backends lack), as two matrix products."""
    rows, columns = (_coverage(n, m) for n, m in zip(masks.shape[1:3], size, strict=True))
    return np.einsum("ih,bhwk,jw->bijk", rows, masks.astype("float64"), columns).astype("float32")


def _coverage(size_in, size_out):
    """`[size_out, size_in]`: the fraction of output cell `o` that input pixel `i` covers."""
    edges = np.arange(size_out + 1) * (size_in / size_out)
    pixels = np.arange(size_in)
    overlap = np.minimum(edges[1:, None], pixels + 1) - np.maximum(edges[:-1, None], pixels)
    return np.clip(overlap, 0, None) / (size_in / size_out)


def _resize(masks, size, interpolation):
    return np.asarray(
        ops.convert_to_numpy(ops.image.resize(masks, size, interpolation=interpolation)),
        "float32",
    )


def _default_propagation(inputs):
    return copy_labels(*inputs)
