"""Per-pixel photometric error of view synthesis: weighted SSIM and L1 (Monodepth2)."""

from numbers import Real

from keras import ops

from kerastricks._checks import check_int, check_number, fail
from kerastricks.losses import _ssim_core as core

__all__ = ["photometric_error"]


def photometric_error(y_true, y_pred, ssim_weight=0.85, l1_weight=0.15, filter_size=3):
    """Per-pixel `ssim_weight * (1 - SSIM) / 2 + l1_weight * |y_true - y_pred|`.

    Both parts are averaged over channels. SSIM uses a `filter_size x filter_size` box
    window on the images padded by reflection (`(filter_size - 1) / 2` pixels each side),
    so the map keeps the input's height and width, with the constants `C1 = 0.01^2` and
    `C2 = 0.03^2` (pixel values in `[0, 1]`). It is the per-pixel error that
    `minimum_reprojection` takes a minimum over; averaged over the pixels it is
    Monodepth2's photometric loss (`ssim_weight=0.85`, `l1_weight=0.15`).

    Reference:
        Godard, Mac Aodha, Firman & Brostow, "Digging Into Self-Supervised Monocular
        Depth Estimation" (ICCV 2019), Eq. 1 (Monodepth2).

    Args:
        y_true: `[B, H, W, C]` target frames, values in `[0, 1]`.
        y_pred: `[B, H, W, C]` reconstructions (warped source frames).
        ssim_weight: weight of the SSIM part, a number >= 0 or a scalar tensor.
            Defaults to `0.85`.
        l1_weight: weight of the L1 part, a number >= 0 or a scalar tensor.
            Defaults to `0.15`.
        filter_size: odd SSIM window size, smaller than `H` and `W`. Defaults to `3`.

    Returns:
        `[B, H, W]` errors.

    Raises:
        ValueError: negative weights, an even `filter_size`, or images of different or
            unknown shapes.

    Example:

    >>> import numpy as np
    >>> import kerastricks as kt
    >>> x = np.random.default_rng(0).random((1, 8, 8, 3)).astype("float32")
    >>> error = np.asarray(kt.losses.photometric_error(x, x))  # a perfect reconstruction
    >>> error.shape, float(np.abs(error).max()) < 1e-6
    ((1, 8, 8), True)
    """
    for name, weight in (("ssim_weight", ssim_weight), ("l1_weight", l1_weight)):
        if isinstance(weight, Real):
            check_number(name, weight, minimum=0)
    filter_size = check_int("filter_size", filter_size, minimum=1)
    if filter_size % 2 == 0:
        fail("`filter_size` must be odd.", "filter_size", filter_size)
    y_true, y_pred = core.prepare_images(y_true, y_pred, filter_size, ("y_true", "y_pred"))
    dtype = core.compute_dtype(y_true.dtype)  # float16 cannot hold E[x^2] - E[x]^2
    y_true, y_pred = ops.cast(y_true, dtype), ops.cast(y_pred, dtype)
    l1 = ops.mean(ops.abs(y_true - y_pred), axis=-1)
    pad = (filter_size - 1) // 2
    if pad:
        widths = [[0, 0], [pad, pad], [pad, pad], [0, 0]]
        y_true = ops.pad(y_true, widths, mode="reflect")
        y_pred = ops.pad(y_pred, widths, mode="reflect")
    taps = core.window_taps("box", filter_size, 1.0)
    ssim = core.ssim_map(y_true, y_pred, taps, True, *core.constants(1.0, 0.01, 0.03))
    dssim = ops.mean(0.5 * (1.0 - ssim), axis=-1)
    return ssim_weight * dssim + l1_weight * l1
