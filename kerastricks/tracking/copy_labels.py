"""Label copying by softmax attention over embeddings, the pointer of colorization tracking."""

import numpy as np
from keras import ops

from kerastricks._checks import check_choice, check_int, check_number
from kerastricks.tracking._attention import NEGATIVE as _NEGATIVE
from kerastricks.tracking._attention import attend

__all__ = ["copy_labels"]


def copy_labels(target, reference, labels, temperature=1.0, window_radius=None, similarity="dot"):
    """Copies per-pixel labels from reference frames by softmax attention over embeddings.

    For each target pixel `i` with embedding `t_i`, and every pixel `j` of the `R`
    reference frames with embedding `r_j` and label vector `c_j`:
    `y_i = sum_j softmax_j(s(t_i, r_j) / T) c_j`, with `s` the dot product or the negative
    squared Euclidean distance, over all reference pixels or, with `window_radius=r`, over
    the `(2r + 1)^2` pixels around `i` in each reference frame (frames of the same size).
    The computation of `kt.layers.ColorPropagation`, which calls this function.

    Reference:
        Vondrick et al., "Tracking Emerges by Colorizing Videos" (ECCV 2018).

    Args:
        target: `[B, H, W, D]` target-frame embeddings.
        reference: `[B, R, H', W', D]` (or `[B, H', W', D]`) reference embeddings.
        labels: `[B, R, H', W', K]` (or `[B, H', W', K]`) reference labels.
        temperature: the softmax temperature `T > 0`. Defaults to `1.0`.
        window_radius: restrict attention to a window; `None` for all pixels. Defaults to
            `None`.
        similarity: `"dot"` or `"euclidean"`. Defaults to `"dot"`.

    Returns:
        `[B, H, W, K]` labels, in the dtype of `labels` (attention in float32).

    Example:

    >>> import numpy as np
    >>> import kerastricks as kt
    >>> target = np.array([[[[1.0], [0.0]]]], "float32")           # [1, 1, 2, 1]
    >>> reference = np.array([[[[1.0], [0.0]]]], "float32")
    >>> labels = np.array([[[[1.0, 0.0], [0.0, 1.0]]]], "float32")
    >>> out = kt.tracking.copy_labels(target, reference, labels, 0.01, similarity="euclidean")
    >>> np.round(np.asarray(out), 3)[0, 0]
    array([[1., 0.],
           [0., 1.]], dtype=float32)
    """
    temperature = check_number("temperature", temperature, minimum=0.0, min_inclusive=False)
    if window_radius is not None:
        window_radius = check_int("window_radius", window_radius, minimum=0)
    check_choice("similarity", similarity, ("dot", "euclidean"))
    target, reference, labels = (ops.convert_to_tensor(v) for v in (target, reference, labels))
    if len(reference.shape) == 4:
        reference = reference[:, None]
    if len(labels.shape) == 4:
        labels = labels[:, None]
    # Queries are scaled by 1 / T, or 2 / T for `-|t - r|^2 / T = (2 t.r - |r|^2) / T`
    # (`-|t|^2 / T` is the same for every reference pixel, so the softmax drops it).
    scale = (2.0 if similarity == "euclidean" else 1.0) / temperature
    query = ops.cast(target, "float32") * scale
    keys = ops.cast(reference, "float32")
    if window_radius is None:
        return _full(query, keys, labels, similarity, temperature)
    height, width = query.shape[1:3]
    if None in (height, width, keys.shape[1]):
        return _windowed(query, keys, labels, similarity, temperature, window_radius)
    if window_radius >= max(height, width) - 1:  # the window covers the whole frame
        return _full(query, keys, labels, similarity, temperature)
    return _tiled(query, keys, labels, similarity, temperature, window_radius)


def _full(query, keys, labels, similarity, temperature):
    shape = ops.shape(query)
    batch, height, width = shape[0], shape[1], shape[2]
    depth = query.shape[-1]
    # The temperature scales the queries, not the [HW, RH'W'] logits: one copy fewer.
    queries = ops.reshape(query, (batch, -1, depth))
    keys = ops.reshape(keys, (batch, -1, depth))
    values = ops.reshape(labels, (batch, -1, labels.shape[-1]))
    output = attend(queries, keys, values, _key_penalty(similarity, temperature))
    return ops.reshape(output, (batch, height, width, labels.shape[-1]))


def _key_penalty(similarity, temperature):
    """The factor of `-|r|^2` in the logits: `1 / T` for the Euclidean similarity."""
    return 1.0 / temperature if similarity == "euclidean" else None


def _windowed(query, keys, labels, similarity, temperature, radius):
    size = 2 * radius + 1
    shape = ops.shape(query)
    height, width = shape[1], shape[2]
    pad = [(0, 0), (0, 0), (radius, radius), (radius, radius), (0, 0)]
    query = query[:, None]  # [B, 1, H, W, D]
    inside = ops.pad(ops.ones_like(keys[:, :, :, :, 0]), pad[:4]) > 0.5  # [B, R, H+2r, W+2r]
    keys = ops.pad(keys, pad)
    values = ops.pad(labels, pad)
    logits = []
    for dy in range(size):
        for dx in range(size):
            key = keys[:, :, dy : dy + height, dx : dx + width]
            logit = ops.sum(query * key, axis=-1)  # [B, R, H, W]
            if similarity == "euclidean":
                logit = logit - ops.sum(ops.square(key), axis=-1) / temperature
            valid = inside[:, :, dy : dy + height, dx : dx + width]
            logits.append(ops.where(valid, logit, _NEGATIVE))
    logits = ops.stack(logits, axis=-1)  # [B, R, H, W, size^2]
    frames = ops.shape(logits)[1]
    flat = ops.reshape(
        ops.transpose(logits, (0, 2, 3, 1, 4)), (-1, height, width, frames * size * size)
    )
    weights = ops.softmax(flat, axis=-1)
    weights = ops.transpose(
        ops.reshape(weights, (-1, height, width, frames, size * size)), (0, 3, 1, 2, 4)
    )
    weights = ops.cast(weights, labels.dtype)  # [B, R, H, W, size^2]
    output = 0.0
    for offset in range(size * size):
        dy, dx = divmod(offset, size)
        value = values[:, :, dy : dy + height, dx : dx + width]  # [B, R, H, W, K]
        output = output + ops.sum(weights[..., offset : offset + 1] * value, axis=1)
    return output


def _tiled(query, keys, labels, similarity, temperature, radius):
    """Windowed attention as dense matmuls over tiles (static height, width and frames).

    The target is cut into `T x T` tiles (`T = max(2r, 4)`, padded at the bottom and
    right); each tile attends to the `(T + 2r)^2` reference pixels around it in every frame,
    with a constant mask keeping each pixel's own `(2r + 1)^2` window and the pixels
    inside the frame. Reshapes, two concatenations and batched matmuls: ops that XLA
    compiles in seconds and runs fast, where `(2r + 1)^2` shifted slices took minutes to
    compile and their gradients (one padded copy of the frame each) ran slowly.
    """
    _, height, width, depth = query.shape
    frames = keys.shape[1]
    tile = max(2 * radius, 4)
    rows, columns = -(-height // tile), -(-width // tile)
    query = ops.pad(query, [(0, 0), (0, rows * tile - height), (0, columns * tile - width), (0, 0)])
    query = ops.reshape(query, (-1, rows, tile, columns, tile, depth))
    query = ops.reshape(
        ops.transpose(query, (0, 1, 3, 2, 4, 5)), (-1, rows, columns, tile**2, depth)
    )
    keys = _regions(keys, radius, tile, rows, columns)  # [B, rows, columns, R * S^2, D]
    allowed = np.tile(_tile_mask(height, width, radius, tile, rows, columns), (1, 1, 1, frames))
    values = _regions(labels, radius, tile, rows, columns)
    # Logits [B, rows, columns, T^2, R * S^2].
    output = attend(query, keys, values, _key_penalty(similarity, temperature), allowed)
    channels = labels.shape[-1]
    output = ops.reshape(output, (-1, rows, columns, tile, tile, channels))
    output = ops.reshape(
        ops.transpose(output, (0, 1, 3, 2, 4, 5)), (-1, rows * tile, columns * tile, channels)
    )
    return output[:, :height, :width]


def _regions(frames, radius, tile, rows, columns):
    """`[B, R, H, W, C]` -> `[B, rows, columns, R * (T + 2r)^2, C]`: each tile's surroundings.

    Tile `(i, j)` covers rows `[iT, iT + T)` of the target; its region covers rows
    `[iT - r, iT + T + r)` of the reference: its own block of `T` rows (in the frame
    padded by `r` above) and the first `2r <= T` rows of the next block.
    """
    _, count, height, width, channels = frames.shape
    size = tile + 2 * radius
    pad_bottom, pad_right = (
        (rows + 1) * tile - height - radius,
        (columns + 1) * tile - width - radius,
    )
    frames = ops.pad(frames, [(0, 0), (0, 0), (radius, pad_bottom), (radius, pad_right), (0, 0)])
    frames = ops.reshape(frames, (-1, rows + 1, tile, (columns + 1) * tile, channels))
    frames = ops.concatenate([frames[:, :rows], frames[:, 1:, : 2 * radius]], axis=2)
    frames = ops.reshape(frames, (-1, rows, size, columns + 1, tile, channels))
    frames = ops.concatenate([frames[:, :, :, :columns], frames[:, :, :, 1:, : 2 * radius]], axis=4)
    frames = ops.reshape(frames, (-1, count, rows, size, columns, size, channels))
    frames = ops.transpose(frames, (0, 2, 4, 1, 3, 5, 6))
    return ops.reshape(frames, (-1, rows, columns, count * size * size, channels))


def _tile_mask(height, width, radius, tile, rows, columns):
    """`[rows, columns, T^2, (T + 2r)^2]` booleans: in the pixel's window and in the frame."""
    size = tile + 2 * radius
    offset = np.arange(size)[None, :] - np.arange(tile)[:, None]  # region index - pixel index
    near = (offset >= 0) & (offset <= 2 * radius)  # [T, S]: within r of the pixel
    window = (near[:, None, :, None] & near[None, :, None, :]).reshape(tile**2, size**2)
    row = np.arange(rows)[:, None] * tile + np.arange(size)[None, :] - radius  # [rows, S]
    column = np.arange(columns)[:, None] * tile + np.arange(size)[None, :] - radius
    inside_row, inside_column = (row >= 0) & (row < height), (column >= 0) & (column < width)
    inside = inside_row[:, None, :, None] & inside_column[None, :, None, :]  # [rows, cols, S, S]
    inside = inside.reshape(rows, columns, 1, size**2)
    return window[None, None] & inside
