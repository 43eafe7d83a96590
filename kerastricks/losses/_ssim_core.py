"""The machinery shared by `ssim`, `ms_ssim` and the SSIM losses (not public).

Local statistics are computed with a separable window: two 1-D passes (a column then
a row), banded matmuls and shifted slices for the Gaussian, average pooling for the box. The
per-pixel SSIM map has a hand-written gradient that reuses the forward statistics and
needs one transposed filtering of four maps, instead of differentiating every
elementwise step.
"""

import keras
import numpy as np
from keras import ops

from kerastricks._checks import check_choice, check_int, check_number, check_rank, fail

WINDOWS = ("gaussian", "box")
_CHANNELS_LAST = "channels_last"
# Output rows per banded matmul of the column filter: the band costs `block + size - 1`
# multiply-adds per output where a convolution needs `size`; 64 keeps that small.
_ROW_BLOCK = 64


def check_ssim_arguments(max_val, filter_size, filter_sigma, k1, k2, window):
    """Validates the SSIM arguments; returns them normalised (floats, int)."""
    return (
        check_number("max_val", max_val, minimum=0, min_inclusive=False),
        check_int("filter_size", filter_size, minimum=1),
        check_number("filter_sigma", filter_sigma, minimum=0, min_inclusive=False),
        check_number("k1", k1, minimum=0, min_inclusive=False),
        check_number("k2", k2, minimum=0, min_inclusive=False),
        check_choice("window", window, WINDOWS),
    )


def window_taps(window, filter_size, filter_sigma):
    """The normalised 1-D window; the 2-D window is its outer product with itself."""
    if window == "box":
        return np.full(filter_size, 1.0 / filter_size)
    offsets = np.arange(filter_size) - (filter_size - 1) / 2.0
    taps = np.exp(-(offsets**2) / (2.0 * filter_sigma**2))
    return taps / taps.sum()


def prepare_images(x, y, filter_size, names=("x", "y")):
    """Converts both images to one floating dtype; checks rank, shapes and size."""
    x, y = ops.convert_to_tensor(x), ops.convert_to_tensor(y)
    dtype = keras.backend.standardize_dtype(x.dtype)
    if "float" not in dtype:
        dtype = "float32"
    x, y = ops.cast(x, dtype), ops.cast(y, dtype)
    check_rank(names[0], x.shape, 4, "[B, H, W, C]")
    check_rank(names[1], y.shape, 4, "[B, H, W, C]")
    if _known(x.shape[1:]) and _known(y.shape[1:]) and x.shape[1:] != y.shape[1:]:
        fail(
            f"`{names[0]}` and `{names[1]}` must have the same height, width and channels; "
            f"`{names[0]}` has shape {tuple(x.shape)}.",
            f"{names[1]}.shape",
            tuple(y.shape),
        )
    if None in x.shape[1:]:
        fail(f"`{names[0]}` needs static H, W and C.", f"{names[0]}.shape", tuple(x.shape))
    if min(x.shape[1], x.shape[2]) < filter_size:
        fail(
            f"Images must be at least `filter_size` ({filter_size}) pixels high and wide.",
            f"{names[0]}.shape",
            tuple(x.shape),
        )
    return x, y


def compute_dtype(dtype):
    """Half precision cannot hold `E[x^2] - E[x]^2`: SSIM runs in float32 for it."""
    return "float64" if keras.backend.standardize_dtype(dtype) == "float64" else "float32"


def separable_filter(images, taps, box):
    """`VALID` filtering of `[B, H, W, C]` with the window `outer(taps, taps)`.

    The box window is average pooling. The Gaussian is a banded matmul down the
    columns (`_column_filter`) and a sum of shifted, weighted slices along the rows:
    both are a few dense ops that TensorFlow runs fast and XLA fuses, where XLA on
    the CPU runs a depthwise convolution with an 11-tap kernel ~25x slower than
    without XLA (`benchmarks/bench_geometry.py`).
    """
    size = len(taps)
    if size == 1:
        return images
    if box:
        images = ops.average_pool(images, (size, 1), 1, "valid", _CHANNELS_LAST)
        return ops.average_pool(images, (1, size), 1, "valid", _CHANNELS_LAST)
    images = _column_filter(images, taps)
    width = images.shape[2] - size + 1
    rows = [float(tap) * images[:, :, k : k + width] for k, tap in enumerate(taps)]
    total = rows[0]
    for row in rows[1:]:
        total = total + row
    return total


def _column_filter(images, taps):
    """`VALID` filtering of `[B, H, W, C]` down the columns: banded matmuls.

    Output rows come in blocks of `_ROW_BLOCK` (one block if there are at most twice
    that many): each block is `band [block, block + size - 1] @ rows [.., W C]` over
    the input rows it covers, so the cost stays linear in `H`.
    """
    size, (height, width, channels) = len(taps), images.shape[1:]
    outputs = height - size + 1
    block = outputs if outputs <= 2 * _ROW_BLOCK else _ROW_BLOCK
    blocks = -(-outputs // block)
    band = np.zeros((block, block + size - 1))
    for row in range(block):
        band[row, row : row + size] = taps
    band = ops.convert_to_tensor(band, dtype=images.dtype)
    flat = ops.reshape(images, (-1, height, width * channels))
    if blocks == 1:
        filtered = ops.matmul(band, flat)
    else:
        padded = (blocks + 1) * block  # every block also reads the next block's first rows
        flat = ops.pad(flat, [[0, 0], [0, padded - height], [0, 0]])
        main = ops.reshape(flat[:, : blocks * block], (-1, blocks, block, width * channels))
        after = ops.reshape(flat[:, block:], (-1, blocks, block, width * channels))
        windows = ops.concatenate([main, after[:, :, : size - 1]], axis=2)
        filtered = ops.reshape(ops.matmul(band, windows), (-1, blocks * block, width * channels))
        filtered = filtered[:, :outputs]
    return ops.reshape(filtered, (-1, outputs, width, channels))


def transposed_filter(maps, taps, box):
    """The adjoint of `separable_filter`: zero-pad by `size - 1`, filter again.

    Exact because both windows are symmetric.
    """
    pad = len(taps) - 1
    if pad == 0:
        return maps
    maps = ops.pad(maps, [[0, 0], [pad, pad], [pad, pad], [0, 0]])
    return separable_filter(maps, taps, box)


def local_statistics(x, y, taps, box):
    """Windowed means of `x`, `y`, `x*y` and `x^2 + y^2`, each `[B, H', W', C]`."""
    stacked = ops.concatenate([x, y, x * y, x * x + y * y], axis=-1)
    return ops.split(separable_filter(stacked, taps, box), 4, axis=-1)


def luminance_and_contrast(x, y, taps, box, c1, c2):
    """Per-pixel luminance and contrast-structure terms (autodiff; used by MS-SSIM)."""
    mean_x, mean_y, mean_xy, mean_squares = local_statistics(x, y, taps, box)
    product = mean_x * mean_y
    squares = mean_x * mean_x + mean_y * mean_y
    luminance = (2.0 * product + c1) / (squares + c1)
    contrast = (2.0 * (mean_xy - product) + c2) / (mean_squares - squares + c2)
    return luminance, contrast


def ssim_map(x, y, taps, box, c1, c2):
    """Per-pixel SSIM `[B, H - f + 1, W - f + 1, C]` with a hand-written gradient.

    With `A = 2 mx my + c1`, `B = 2 (mxy - mx my) + c2`, `C = mx^2 + my^2 + c1`,
    `D = mss - mx^2 - my^2 + c2` (`mss` the mean of `x^2 + y^2`), `S = AB / (CD)`:
    `dS/dmx = 2 [my (B - A) - mx S (D - C)] / (CD)` (symmetric for `my`),
    `dS/dmxy = 2A / (CD)`, `dS/dmss = -S C / (CD)`; the image gradients follow by
    the transposed filter and `dmxy/dx = y`, `dmss/dx = 2x`.
    """

    @ops.custom_gradient
    def _map(x, y):
        mean_x, mean_y, mean_xy, mean_squares = local_statistics(x, y, taps, box)
        product = mean_x * mean_y
        squares = mean_x * mean_x + mean_y * mean_y
        a = 2.0 * product + c1
        b = 2.0 * (mean_xy - product) + c2
        c = squares + c1
        d = mean_squares - squares + c2
        inverse = 1.0 / (c * d)
        value = a * b * inverse

        def grad(*args, upstream=None):
            if upstream is None:
                (upstream,) = args
            scaled = upstream * inverse
            b_minus_a = b - a
            value_d_minus_c = value * (d - c)
            maps = ops.concatenate(
                [
                    2.0 * scaled * (mean_y * b_minus_a - mean_x * value_d_minus_c),
                    2.0 * scaled * (mean_x * b_minus_a - mean_y * value_d_minus_c),
                    2.0 * scaled * a,
                    -scaled * value * c,
                ],
                axis=-1,
            )
            d_mean_x, d_mean_y, d_mean_xy, d_mean_squares = ops.split(
                transposed_filter(maps, taps, box), 4, axis=-1
            )
            twice_squares = 2.0 * d_mean_squares
            return (
                d_mean_x + y * d_mean_xy + x * twice_squares,
                d_mean_y + x * d_mean_xy + y * twice_squares,
            )

        return value, grad

    return _map(x, y)


def constants(max_val, k1, k2):
    return (k1 * max_val) ** 2, (k2 * max_val) ** 2


def pooled_mask(mask, filter_size, like):
    """Min-pools a per-pixel mask over the SSIM window: a map pixel counts only if its
    whole window is valid. Accepts `[B, H, W]`, `[B, H, W, 1]` or `[B, H, W, C]`."""
    mask = ops.cast(ops.convert_to_tensor(mask), like.dtype)
    if len(mask.shape) == 3:
        mask = ops.expand_dims(mask, -1)
    check_rank("mask", mask.shape, 4, "[B, H, W] or [B, H, W, 1] or [B, H, W, C]")
    if filter_size > 1:
        window = (filter_size, filter_size)
        mask = -ops.max_pool(-mask, window, 1, "valid", _CHANNELS_LAST)
    return mask


def masked_mean(values, weights):
    """Per-sample `sum(values * w) / sum(w)` over all but the batch axis; 0 if `sum(w) = 0`."""
    weights = ops.broadcast_to(weights, ops.shape(values))
    axes = tuple(range(1, len(values.shape)))
    total = ops.sum(weights, axis=axes)
    return ops.sum(values * weights, axis=axes) / ops.maximum(total, 1e-12)


def _known(shape):
    return all(d is not None for d in shape)
