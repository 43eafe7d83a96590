"""Multi-scale structural similarity (MS-SSIM): `ms_ssim` and the metric `MultiScaleSSIM`."""

from keras import ops

from kerastricks._checks import check_number, check_type, fail
from kerastricks._registry import register
from kerastricks.losses import _ssim_core as core
from kerastricks.metrics._images import check_images
from kerastricks.metrics._sample_mean import SampleMean

__all__ = ["ms_ssim", "MultiScaleSSIM"]

_POWER_FACTORS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def ms_ssim(
    x,
    y,
    max_val=1.0,
    filter_size=11,
    filter_sigma=1.5,
    k1=0.01,
    k2=0.03,
    power_factors=_POWER_FACTORS,
):
    """Multi-scale SSIM: contrast-structure at several scales, luminance at the coarsest.

    `MS-SSIM = prod_{s < S} cs_s^{p_s} * ssim_S^{p_S}` per channel, then averaged
    over channels, where scale `s + 1` is scale `s` average-pooled 2x2 (odd sizes are
    first padded symmetrically by one row or column), `cs_s` the mean
    contrast-structure term and `ssim_S` the mean SSIM of the last scale, each clamped
    at 0. Matches `tf.image.ssim_multiscale` (tested to 1e-5). Gradients are finite
    where a term is clamped (they are 0 there).

    Reference:
        Wang, Simoncelli & Bovik, "Multiscale structural similarity for image quality
        assessment" (Asilomar 2003).

    Args:
        x: `[B, H, W, C]` images, non-negative, with `H` and `W` at least
            `(filter_size - 1) * 2^(S - 1) + 1` (161 for the defaults), the smallest
            size whose coarsest scale (odd sizes are padded before halving) still holds
            the window.
        y: `[B, H, W, C]` images of the same shape.
        max_val: dynamic range of pixel values. Defaults to `1.0`.
        filter_size: Gaussian window size. Defaults to `11`.
        filter_sigma: Gaussian standard deviation. Defaults to `1.5`.
        k1: luminance stabiliser. Defaults to `0.01`.
        k2: contrast stabiliser. Defaults to `0.03`.
        power_factors: exponent of each scale, finest first; their number is the
            number of scales `S`. Defaults to the paper's
            `(0.0448, 0.2856, 0.3001, 0.2363, 0.1333)`.

    Returns:
        `[B]` MS-SSIM values in `[0, 1]`, in the floating dtype of `x`.

    Raises:
        ValueError: bad values, or images too small for the number of scales.
        TypeError: non-numeric arguments or images, or `power_factors` not a sequence.

    Warns:
        UserWarning: integer images with `max_val` at most 1 (as `ssim`).

    Example:

    >>> import numpy as np
    >>> import kerastricks as kt
    >>> x = np.random.default_rng(0).random((1, 48, 48, 1)).astype("float32")
    >>> np.asarray(kt.metrics.ms_ssim(x, x, power_factors=(0.5, 0.5), filter_size=7))
    array([1.], dtype=float32)
    """
    max_val, filter_size, filter_sigma, k1, k2, _ = core.check_ssim_arguments(
        max_val, filter_size, filter_sigma, k1, k2, "gaussian"
    )
    powers = _check_power_factors(power_factors)
    x, y = check_images(x, y, max_val)
    x, y = core.prepare_images(x, y, filter_size)
    coarsest = min(x.shape[1], x.shape[2])
    for _ in powers[1:]:
        coarsest = -(-coarsest // 2)  # halved after padding an odd size by one
    if coarsest < filter_size:
        fail(
            f"Images must be at least (filter_size - 1) * 2^(scales - 1) + 1 = "
            f"{(filter_size - 1) * 2 ** (len(powers) - 1) + 1} pixels high and wide for "
            f"{len(powers)} scales.",
            "x.shape",
            tuple(x.shape),
        )
    out_dtype = x.dtype
    dtype = core.compute_dtype(out_dtype)
    x, y = ops.cast(x, dtype), ops.cast(y, dtype)
    c1, c2 = core.constants(max_val, k1, k2)
    taps = core.window_taps("gaussian", filter_size, filter_sigma)

    result = 1.0
    for scale, power in enumerate(powers):
        if scale:
            x, y = _downsample(x), _downsample(y)
        luminance, contrast = core.luminance_and_contrast(x, y, taps, False, c1, c2)
        last = scale == len(powers) - 1
        term = ops.mean(luminance * contrast if last else contrast, axis=(1, 2))  # [B, C]
        if power:  # x ** 0 is 1, even for x = 0
            result = result * _safe_power(ops.relu(term), power)
    return ops.cast(ops.mean(result, axis=-1), out_dtype)


def _downsample(images):
    """2x2 average pooling after padding odd sizes by one symmetric row/column."""
    pad_h, pad_w = images.shape[1] % 2, images.shape[2] % 2
    if pad_h or pad_w:
        images = ops.pad(images, [[0, 0], [0, pad_h], [0, pad_w], [0, 0]], mode="symmetric")
    return ops.average_pool(images, 2, 2, "valid", "channels_last")


def _safe_power(value, power):
    """`value ** power` for `value >= 0` with a zero (not infinite) gradient at 0."""
    positive = value > 0
    safe = ops.where(positive, value, ops.ones_like(value))
    return ops.where(positive, ops.power(safe, power), ops.zeros_like(value))


@register
class MultiScaleSSIM(SampleMean):
    """The multi-scale SSIM metric: mean MS-SSIM over all images seen.

    Each image contributes its `ms_ssim`; the result is the (sample-weighted) mean over
    every image of every batch and replica since the last reset. Higher is better.

    Reference:
        Wang, Simoncelli & Bovik (Asilomar 2003).

    Args:
        max_val: dynamic range of pixel values. Defaults to `1.0`.
        filter_size: Gaussian window size. Defaults to `11`.
        filter_sigma: Gaussian standard deviation. Defaults to `1.5`.
        k1: luminance stabiliser. Defaults to `0.01`.
        k2: contrast stabiliser. Defaults to `0.03`.
        power_factors: exponent of each scale, finest first. Defaults to the paper's.
        name: metric name. Defaults to `"ms_ssim"`.
        dtype: dtype of the state. Defaults to `None` (float32).

    Call arguments:
        y_true: `[B, H, W, C]` images.
        y_pred: `[B, H, W, C]` images.
        sample_weight: optional `[B]` weights.

    Raises:
        ValueError, TypeError: bad arguments, at construction.

    Example:

    >>> import numpy as np
    >>> import kerastricks as kt
    >>> x = np.random.default_rng(0).random((2, 48, 48, 1)).astype("float32")
    >>> metric = kt.metrics.MultiScaleSSIM(filter_size=7, power_factors=(0.5, 0.5))
    >>> metric.update_state(x, x)
    >>> float(metric.result())
    1.0
    """

    argument_names = ("max_val", "filter_size", "filter_sigma", "k1", "k2", "power_factors")

    def __init__(
        self,
        max_val=1.0,
        filter_size=11,
        filter_sigma=1.5,
        k1=0.01,
        k2=0.03,
        power_factors=_POWER_FACTORS,
        name="ms_ssim",
        dtype=None,
    ):
        super().__init__(name=name, dtype=dtype)
        checked = core.check_ssim_arguments(max_val, filter_size, filter_sigma, k1, k2, "box")
        self.max_val, self.filter_size, self.filter_sigma, self.k1, self.k2, _ = checked
        self.power_factors = _check_power_factors(power_factors)

    def per_sample(self, y_true, y_pred):
        arguments = {name: getattr(self, name) for name in self.argument_names}
        return ms_ssim(y_true, y_pred, **arguments), None


def _check_power_factors(power_factors):
    check_type("power_factors", power_factors, (tuple, list), "a tuple or list of numbers")
    if not power_factors:
        fail("`power_factors` must not be empty.", "power_factors", power_factors)
    return [check_number("power_factors[i]", p, minimum=0) for p in power_factors]
