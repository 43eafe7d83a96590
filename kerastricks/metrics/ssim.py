"""Structural similarity (SSIM): the index and its per-pixel map, `ssim`, and the metric
`SSIM`. The loss `1 - SSIM` is `kt.losses.SSIMLoss`."""

from keras import ops

from kerastricks._deprecation import warn_deprecated
from kerastricks._registry import register
from kerastricks.losses import _ssim_core as core
from kerastricks.metrics._images import SSIMArguments, check_images
from kerastricks.metrics._sample_mean import SampleMean

__all__ = ["ssim", "SSIM"]


def ssim(
    x,
    y,
    max_val=1.0,
    filter_size=11,
    filter_sigma=1.5,
    k1=0.01,
    k2=0.03,
    window="gaussian",
    return_map=False,
):
    """Structural similarity index of two image batches, or its per-pixel map.

    `SSIM = (2 mx my + c1)(2 sxy + c2) / ((mx^2 + my^2 + c1)(sx^2 + sy^2 + c2))` with
    local means, variances and covariance weighted by the window, `c1 = (k1 max_val)^2`,
    `c2 = (k2 max_val)^2`, population (not sample) covariances, per channel, at every
    position where the window fits inside the image (`VALID`). The mean over positions
    and channels is the usual SSIM and matches `tf.image.ssim` and
    `skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False, data_range=max_val)` (tested to 1e-5 and 1e-3).
    `window="box", filter_size=3` is the 3x3 average-pooling SSIM of vid2depth and
    Monodepth.

    The Gaussian window runs as two 1-D passes (a column then a row), `2 f` instead of
    `f^2` multiplies per pixel, and the gradient is written out by hand; together a
    third of the forward-backward CPU time of `tf.image.ssim` on 4x128x416x3 batches
    (`benchmarks/bench_geometry.py`). Under XLA on a CPU, TensorFlow lowers depthwise
    convolutions poorly (seconds per batch, for `tf.image.ssim` too): there prefer
    `window="box"`, which runs as average pooling.
    Images of identical constant value have SSIM exactly 1 (both constants are
    positive), and gradients are finite everywhere.

    Reference:
        Wang, Bovik, Sheikh & Simoncelli, "Image quality assessment: from error
        visibility to structural similarity" (IEEE TIP 2004).

    Args:
        x: `[B, H, W, C]` images, any dtype (integers are converted to float32;
            float16/bfloat16 are computed in float32).
        y: `[B, H, W, C]` images of the same shape.
        max_val: the dynamic range of the pixel values (1.0 for `[0, 1]`, 255 for
            8-bit). Defaults to `1.0`.
        filter_size: window size `f` in pixels. Defaults to `11`.
        filter_sigma: standard deviation of the Gaussian window (ignored for the box).
            Defaults to `1.5`.
        k1: luminance stabiliser. Defaults to `0.01`.
        k2: contrast stabiliser. Defaults to `0.03`.
        window: `"gaussian"` or `"box"` (uniform). Defaults to `"gaussian"`.
        return_map: return the per-pixel map instead of the per-image mean. Defaults
            to `False`.

    Returns:
        `[B]` mean SSIM per image, or with `return_map=True` the map
        `[B, H - f + 1, W - f + 1, C]`, in the floating dtype of `x` (float32 for
        integer images).

    Raises:
        ValueError: bad argument values, mismatched shapes, images smaller than the
            window.
        TypeError: non-numeric arguments or images (strings, booleans).

    Warns:
        UserWarning: integer images with `max_val` at most 1 (8-bit images need
            `max_val=255`; with 1.0 the constants `c1`, `c2` are 255^2 times too small).

    Example:

    >>> import numpy as np
    >>> import kerastricks as kt
    >>> rng = np.random.default_rng(0)
    >>> x = rng.random((2, 32, 32, 3)).astype("float32")
    >>> np.asarray(kt.metrics.ssim(x, x))
    array([1., 1.], dtype=float32)
    >>> kt.metrics.ssim(x, 0.5 * x, window="box", filter_size=3, return_map=True).shape
    TensorShape([2, 30, 30, 3])
    """
    max_val, filter_size, filter_sigma, k1, k2, window = core.check_ssim_arguments(
        max_val, filter_size, filter_sigma, k1, k2, window
    )
    x, y = check_images(x, y, max_val)
    x, y = core.prepare_images(x, y, filter_size)
    out_dtype = x.dtype
    dtype = core.compute_dtype(out_dtype)
    x, y = ops.cast(x, dtype), ops.cast(y, dtype)
    c1, c2 = core.constants(max_val, k1, k2)
    taps = core.window_taps(window, filter_size, filter_sigma)
    value = core.ssim_map(x, y, taps, window == "box", c1, c2)
    if not return_map:
        value = ops.mean(value, axis=(1, 2, 3))
    return ops.cast(value, out_dtype)


@register
class SSIM(SSIMArguments, SampleMean):
    """The structural similarity metric: mean SSIM over all images seen.

    Each image contributes its mean SSIM (`ssim`); the result is the (sample-weighted)
    mean over every image of every batch and replica since the last reset. Higher is
    better (1 for identical images). For a loss, use `kt.losses.SSIMLoss` (`1 - SSIM`)
    or `kt.losses.DSSIM` (`(1 - SSIM) / 2`).

    Reference:
        Wang, Bovik, Sheikh & Simoncelli (IEEE TIP 2004).

    Args:
        max_val: dynamic range of pixel values. Defaults to `1.0`.
        filter_size: window size. Defaults to `11`.
        filter_sigma: Gaussian standard deviation. Defaults to `1.5`.
        k1: luminance stabiliser. Defaults to `0.01`.
        k2: contrast stabiliser. Defaults to `0.03`.
        window: `"gaussian"` or `"box"`. Defaults to `"gaussian"`.
        name: metric name. Defaults to `"ssim"`.
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
    >>> x = np.random.default_rng(0).random((2, 16, 16, 3)).astype("float32")
    >>> metric = kt.metrics.SSIM(window="box", filter_size=3)
    >>> metric.update_state(x, x)
    >>> float(metric.result())
    1.0
    """

    argument_names = SSIMArguments.ssim_argument_names

    def __init__(
        self,
        max_val=1.0,
        filter_size=11,
        filter_sigma=1.5,
        k1=0.01,
        k2=0.03,
        window="gaussian",
        name="ssim",
        dtype=None,
    ):
        super().__init__(name=name, dtype=dtype)
        self.set_ssim_arguments(max_val, filter_size, filter_sigma, k1, k2, window)

    def per_sample(self, y_true, y_pred):
        return ssim(y_true, y_pred, **self.ssim_arguments()), None

    @classmethod
    def from_config(cls, config):
        if "reduction" in config:
            # A `.keras` file written before 0.2 holds the loss `1 - SSIM` under this
            # registered name (`kt.losses.SSIM`, now `kt.losses.SSIMLoss`).
            from kerastricks.losses.ssim import SSIMLoss

            warn_deprecated("kt.losses.SSIM (saved as kerastricks>SSIM)", "kt.losses.SSIMLoss", 2)
            return SSIMLoss.from_config(config)
        return super().from_config(config)
