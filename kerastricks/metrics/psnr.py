"""Peak signal-to-noise ratio: `psnr` and the metric `PSNR`."""

from keras import ops

from kerastricks._checks import check_number, check_rank, fail
from kerastricks._registry import register
from kerastricks.metrics._images import check_images
from kerastricks.metrics._sample_mean import SampleMean

__all__ = ["psnr", "PSNR"]


def psnr(x, y, max_val=1.0):
    """Peak signal-to-noise ratio of each image pair, in decibels.

    `PSNR = 10 log10(max_val^2 / MSE)` with the mean squared error over all pixels and
    channels of the image, as `tf.image.psnr` and `skimage.metrics.peak_signal_noise_ratio`
    compute it. Identical images have an infinite PSNR (as in both).

    Args:
        x: `[B, H, W, C]` images, any numeric dtype (computed in float32, float64 kept).
        y: `[B, H, W, C]` images of the same shape.
        max_val: the dynamic range of the pixel values (1.0 for `[0, 1]`, 255 for 8-bit).
            Defaults to `1.0`.

    Returns:
        `[B]` PSNR values (float32, or float64 for float64 images).

    Raises:
        ValueError: `max_val` not positive, images not `[B, H, W, C]` of one shape.
        TypeError: non-numeric arguments or images.

    Warns:
        UserWarning: integer images with `max_val` at most 1.

    Example:

    >>> import numpy as np
    >>> import kerastricks as kt
    >>> x = np.full((1, 4, 4, 1), 0.5, "float32")
    >>> np.asarray(kt.metrics.psnr(x, x + 0.1))  # MSE 0.01: 10 log10(1 / 0.01) = 20 dB
    array([20.], dtype=float32)
    """
    max_val = check_number("max_val", max_val, minimum=0, min_inclusive=False)
    x, y = check_images(x, y, max_val)
    check_rank("x", x.shape, 4, "[B, H, W, C]")
    if tuple(x.shape) != tuple(y.shape):
        fail("`x` and `y` must have the same shape.", "shapes", (tuple(x.shape), tuple(y.shape)))
    dtype = "float64" if x.dtype == "float64" else "float32"
    x, y = ops.cast(x, dtype), ops.cast(y, dtype)
    mse = ops.mean(ops.square(x - y), axis=(1, 2, 3))
    return 10.0 * ops.log10(max_val**2 / mse)


@register
class PSNR(SampleMean):
    """The peak signal-to-noise ratio metric: mean PSNR (dB) over all images seen.

    Each image contributes its `psnr`; the result is the (sample-weighted) mean over
    every image of every batch and replica since the last reset (the mean of per-image
    PSNRs, as papers report, not the PSNR of the pooled error). Higher is better.

    Args:
        max_val: dynamic range of pixel values. Defaults to `1.0`.
        name: metric name. Defaults to `"psnr"`.
        dtype: dtype of the state. Defaults to `None` (float32).

    Call arguments:
        y_true: `[B, H, W, C]` images.
        y_pred: `[B, H, W, C]` images.
        sample_weight: optional `[B]` weights.

    Raises:
        ValueError, TypeError: a bad `max_val`, at construction.

    Example:

    >>> import numpy as np
    >>> import kerastricks as kt
    >>> x = np.full((2, 4, 4, 1), 0.5, "float32")
    >>> metric = kt.metrics.PSNR()
    >>> metric.update_state(x, x + 0.1)
    >>> round(float(metric.result()), 3)
    20.0
    """

    argument_names = ("max_val",)

    def __init__(self, max_val=1.0, name="psnr", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.max_val = check_number("max_val", max_val, minimum=0, min_inclusive=False)

    def per_sample(self, y_true, y_pred):
        return psnr(y_true, y_pred, self.max_val), None
