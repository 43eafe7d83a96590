"""The SSIM loss `1 - SSIM`: `ssim_loss` and `SSIMLoss`, and the deprecated `ssim` / `SSIM`.

The similarity itself (`ssim`, the metric `SSIM`) lives in `kt.metrics`: a similarity is
maximised, a loss minimised, and a function/class pair computes one quantity.
"""

from keras import ops

from kerastricks._deprecation import deprecated_alias
from kerastricks._registry import register
from kerastricks.losses import _ssim_core as core
from kerastricks.losses._masked_loss import MaskedLoss
from kerastricks.metrics._images import SSIMArguments
from kerastricks.metrics.ssim import ssim as _ssim

__all__ = ["ssim", "ssim_loss", "SSIM", "SSIMLoss"]


def ssim_loss(
    y_true,
    y_pred,
    mask=None,
    max_val=1.0,
    filter_size=11,
    filter_sigma=1.5,
    k1=0.01,
    k2=0.03,
    window="gaussian",
):
    """Per-image `1 - SSIM`, averaged over the valid part of an optional mask.

    Without a mask this is `1 - ssim(y_true, y_pred)`. With a per-pixel mask (such as
    the principled mask of `kt.geometry.projective_inverse_warp`) the mask is first
    min-pooled over the window, so a map pixel counts only if its whole window is
    valid (vid2depth averaged the mask, letting invalid pixels leak in), and the
    per-image value is `sum((1 - SSIM) * m) / sum(m)`, or 0 for an all-zero mask.

    Reference:
        Wang et al. (IEEE TIP 2004); Mahjourian, Wicke & Angelova (CVPR 2018), Eq. 6.

    Args:
        y_true: `[B, H, W, C]` images.
        y_pred: `[B, H, W, C]` images.
        mask: optional `[B, H, W]`, `[B, H, W, 1]` or `[B, H, W, C]` weights in
            `[0, 1]`. Defaults to `None` (every pixel).
        max_val: dynamic range of pixel values. Defaults to `1.0`.
        filter_size: window size. Defaults to `11`.
        filter_sigma: Gaussian standard deviation. Defaults to `1.5`.
        k1: luminance stabiliser. Defaults to `0.01`.
        k2: contrast stabiliser. Defaults to `0.03`.
        window: `"gaussian"` or `"box"`. Defaults to `"gaussian"`.

    Returns:
        `[B]` losses in `[0, 2]`, 0 for identical images.

    Raises:
        ValueError, TypeError: as in `kt.metrics.ssim`.

    Example:

    >>> import numpy as np
    >>> import kerastricks as kt
    >>> x = np.random.default_rng(0).random((1, 16, 16, 1)).astype("float32")
    >>> mask = np.ones((1, 16, 16, 1), "float32")
    >>> np.asarray(kt.losses.ssim_loss(x, x, mask=mask, window="box", filter_size=3))
    array([0.], dtype=float32)
    """
    value = _ssim(y_true, y_pred, max_val, filter_size, filter_sigma, k1, k2, window, True)
    if mask is None:
        return 1.0 - ops.mean(value, axis=(1, 2, 3))
    return core.masked_mean(1.0 - value, core.pooled_mask(mask, filter_size, value))


class _SSIMBase(SSIMArguments, MaskedLoss):
    """Constructor and config shared by `SSIMLoss` and `DSSIM`."""

    default_name = None

    def __init__(
        self,
        max_val=1.0,
        filter_size=11,
        filter_sigma=1.5,
        k1=0.01,
        k2=0.03,
        window="gaussian",
        reduction="sum_over_batch_size",
        name=None,
        dtype=None,
    ):
        super().__init__(name=name or self.default_name, reduction=reduction, dtype=dtype)
        self.set_ssim_arguments(max_val, filter_size, filter_sigma, k1, k2, window)

    def get_config(self):
        return {**super().get_config(), **self.ssim_arguments()}


@register
class SSIMLoss(_SSIMBase):
    """The SSIM loss `1 - SSIM`, optionally over a per-pixel mask.

    Computes its functional twin `ssim_loss`: per image, `1 - mean SSIM` over the positions
    whose whole window lies in the mask (min-pooled mask, see `ssim_loss`). Call it as any Keras
    loss, or with a mask: `loss(y_true, y_pred, mask=mask)`.

    Reference:
        Wang, Bovik, Sheikh & Simoncelli (IEEE TIP 2004); used for view synthesis in
        Mahjourian, Wicke & Angelova (CVPR 2018).

    Args:
        max_val: dynamic range of pixel values. Defaults to `1.0`.
        filter_size: window size. Defaults to `11`.
        filter_sigma: Gaussian standard deviation. Defaults to `1.5`.
        k1: luminance stabiliser. Defaults to `0.01`.
        k2: contrast stabiliser. Defaults to `0.03`.
        window: `"gaussian"` or `"box"`. Defaults to `"gaussian"`.
        reduction: Keras reduction. Defaults to `"sum_over_batch_size"`.
        name: loss name. Defaults to `"ssim_loss"`.
        dtype: dtype of the loss computation. Defaults to `None` (float32).

    Call arguments:
        y_true: `[B, H, W, C]` images.
        y_pred: `[B, H, W, C]` images.
        sample_weight: optional `[B]` weights.
        mask: optional `[B, H, W]`, `[B, H, W, 1]` or `[B, H, W, C]` per-pixel mask.

    Returns:
        The reduced loss (`[B]` with `reduction=None`).

    Raises:
        ValueError, TypeError: bad arguments, at construction.

    Example:

    >>> import numpy as np
    >>> import kerastricks as kt
    >>> rng = np.random.default_rng(0)
    >>> x = rng.random((2, 16, 16, 3)).astype("float32")
    >>> loss = kt.losses.SSIMLoss(window="box", filter_size=3)
    >>> float(loss(x, x))
    0.0
    >>> mask = np.zeros((2, 16, 16, 1), "float32")
    >>> float(loss(x, rng.random(x.shape), mask=mask))  # nothing valid: 0, not NaN
    0.0
    """

    default_name = "ssim_loss"

    def loss_function(self, y_true, y_pred, mask=None):
        return ssim_loss(y_true, y_pred, mask=mask, **self.ssim_arguments())


ssim = deprecated_alias(_ssim, "kt.losses.ssim", "kt.metrics.ssim")
SSIM = deprecated_alias(SSIMLoss, "kt.losses.SSIM", "kt.losses.SSIMLoss")
