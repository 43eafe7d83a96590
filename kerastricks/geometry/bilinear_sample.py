"""Differentiable bilinear sampling of images at arbitrary pixel coordinates."""

from keras import ops

from kerastricks._checks import check_rank, fail
from kerastricks.geometry._tensors import as_float, geometry_dtype

__all__ = ["bilinear_sample"]


def bilinear_sample(image, coords):
    """Samples `image` at real-valued pixel coordinates with bilinear interpolation.

    `output[b, i, j] = sum_k w_k * image[b, y_k, x_k]` over the four pixels around
    `coords[b, i, j] = (x, y)`, with the usual bilinear weights. Coordinates outside
    the image are clamped to the border (edge-replicate padding), so every output is
    finite; whether a coordinate was inside is for the caller to mask (as
    `projective_inverse_warp` does). Differentiable with respect to the image and,
    inside the image, the coordinates (the gradient with respect to a clamped
    coordinate is 0).

    The four neighbours are gathered as in a spatial transformer; the gradient is
    written out by hand (one `segment_sum` scatter of each sample's 2x2 patch of
    weighted gradients to its top-left pixel, then three shifted adds, for the image;
    two channel sums for the coordinates), which makes the backward pass cheaper than
    autodiff's, with and without XLA (see `benchmarks/bench_geometry.py`).
    XLA-compilable.

    Reference:
        Jaderberg et al., "Spatial Transformer Networks" (NeurIPS 2015).

    Convention:
        `coords[..., 0]` is `x` (column) and `coords[..., 1]` is `y` (row), in pixels
        of `image`, with pixel centres at integers: `(0, 0)` is the centre of the
        top-left pixel and `(W - 1, H - 1)` that of the bottom-right one.

    Args:
        image: `[B, H, W, C]` images, any float dtype.
        coords: `[B, h, w, 2]` sampling positions `(x, y)`.

    Returns:
        `[B, h, w, C]` samples in the dtype of `image`.

    Raises:
        ValueError: wrong ranks, `coords` not ending with 2, or unknown `H`, `W`, `C`.

    Example:

    >>> import numpy as np
    >>> import kerastricks as kt
    >>> image = np.arange(6, dtype="float32").reshape(1, 2, 3, 1)  # [[0 1 2], [3 4 5]]
    >>> coords = np.array([[[[0.5, 0.0], [1.0, 0.5], [2.5, 1.0]]]], "float32")
    >>> np.asarray(kt.geometry.bilinear_sample(image, coords))[..., 0]
    array([[[0.5, 2.5, 5. ]]], dtype=float32)
    """
    image = ops.convert_to_tensor(image)
    coords = ops.convert_to_tensor(coords)
    check_rank("image", image.shape, 4, "[B, H, W, C]")
    check_rank("coords", coords.shape, 4, "[B, h, w, 2]")
    if coords.shape[-1] != 2:
        fail("`coords` must end with 2: (x, y).", "coords.shape", tuple(coords.shape))
    _, height, width, channels = image.shape
    if None in (height, width, channels):
        fail("`image` needs static H, W and C.", "image.shape", tuple(image.shape))
    dtype = geometry_dtype(coords, image)
    coords = as_float(coords, dtype)
    shape = (ops.shape(coords)[0], ops.shape(coords)[1], ops.shape(coords)[2])
    return sample_at(image, coords[..., 0], coords[..., 1], shape)


def sample_at(image, x, y, shape):
    """`bilinear_sample` with the coordinates as two tensors of `B * h * w` values.

    `image` is `[B, H, W, C]` with static `H, W, C`; `x`, `y` are floating tensors of
    any shape holding `B * h * w` values in batch-major order; the result has
    `shape + (C,)` with `shape = (B, h, w)`. Taking `x` and `y` apart spares the
    warp a stack-and-slice of its coordinates (and the gradients of both).
    """
    _, height, width, channels = image.shape
    out_dtype = image.dtype
    batch, out_height, out_width = shape
    x = ops.reshape(ops.clip(x, 0.0, width - 1.0), (-1, 1))
    y = ops.reshape(ops.clip(y, 0.0, height - 1.0), (-1, 1))
    x0, y0 = ops.floor(x), ops.floor(y)
    column, row = ops.cast(x0, "int32"), ops.cast(y0, "int32")
    step_x = ops.minimum(column + 1, width - 1) - column  # 0 on the last column
    step_y = (ops.minimum(row + 1, height - 1) - row) * width
    first = ops.arange(batch, dtype="int32") * (height * width)
    first = ops.repeat(first, out_height * out_width)[:, None]
    top_left = first + row * width + column
    corners = [top_left, top_left + step_x, top_left + step_y, top_left + step_y + step_x]
    corners = [ops.reshape(index, (-1,)) for index in corners]
    table = ops.reshape(ops.cast(image, x.dtype), (-1, channels))
    samples = _interpolate(table, x - x0, y - y0, corners, (height, width))
    samples = ops.reshape(samples, (batch, out_height, out_width, channels))
    return ops.cast(samples, out_dtype)


def _interpolate(table, fx, fy, corners, size):
    """Bilinear blend of four gathered rows of `table`, with a hand-written gradient.

    `table` holds the `[B, H, W]` pixels of `size = (H, W)` as rows. The gradient with
    respect to it scatters, with one `segment_sum`, the four weighted upstream gradients
    of each sample as one `[4, C]` row to the sample's top-left pixel, then adds the
    right, lower and lower-right parts to their pixels with shifted slices
    (`_fold_patches`): a scatter of `N` rows with no `[4N]` index array, which
    is cheaper than scattering `4N` rows to the four corners, with and without XLA. The
    gradients with respect to `fx`, `fy` reuse the forward differences. Autodiff builds
    the same sums from many more ops.
    """

    ones = ops.ones((table.shape[-1], 1), dtype=table.dtype)

    @ops.custom_gradient
    def blend(table, fx, fy):
        p00, p01, p10, p11 = (ops.take(table, index, axis=0) for index in corners)
        along_top, along_bottom = p01 - p00, p11 - p10
        top = p00 + fx * along_top
        down = p10 + fx * along_bottom - top
        value = top + fy * down

        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            lower = upstream * fy
            upper = upstream - lower
            # Channel sums as matmuls with ones: faster than reducing an axis of 3.
            d_fx = ops.matmul(upper * along_top + lower * along_bottom, ones)
            d_fy = ops.matmul(upstream * down, ones)
            upper_right, lower_right = upper * fx, lower * fx
            pieces = [upper - upper_right, upper_right, lower - lower_right, lower_right]
            patches = ops.segment_sum(
                ops.stack(pieces, axis=1), corners[0], num_segments=ops.shape(table)[0]
            )
            return _fold_patches(patches, *size), d_fx, d_fy

        return value, grad

    return blend(table, fx, fy)


def _fold_patches(patches, height, width):
    """Per-pixel gradients `[N, C]` from the `[N, 4, C]` 2x2-patch gradients at top-left pixels.

    Patch part `(0, 1)` belongs one column to the right, `(1, 0)` one row down and
    `(1, 1)` both. A part that would fall outside the image is dropped: it is always 0,
    since a sample on the last column (row) has `fx = 0` (`fy = 0`), and there
    `sample_at` points the right (lower) corner at the same pixel.
    """
    channels = patches.shape[-1]
    grid = ops.reshape(patches, (-1, height, width, 4, channels))
    zero_column = ops.zeros_like(grid[:, :, :1, 0])
    zero_row = ops.zeros_like(grid[:, :1, :, 0])

    def right(part):
        return ops.concatenate([zero_column, part[:, :, :-1]], axis=2)

    def down(part):
        return ops.concatenate([zero_row, part[:, :-1]], axis=1)

    total = (
        grid[..., 0, :] + right(grid[..., 1, :]) + down(grid[..., 2, :] + right(grid[..., 3, :]))
    )
    return ops.reshape(total, (-1, channels))
