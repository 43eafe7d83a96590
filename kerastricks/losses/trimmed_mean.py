"""Per-sample masked mean of per-pixel errors without the largest ones (a trimmed loss)."""

from keras import ops

from kerastricks._checks import check_number, check_same_shape, fail

__all__ = ["trimmed_mean"]


def trimmed_mean(errors, mask=None, fraction=0.2):
    """Per-sample mean of the per-pixel `errors` over the kept pixels, the largest dropped.

    Of the pixels where `mask > 0`, the `floor(fraction * n)` with the largest errors are
    dropped (`n` the sample's count of such pixels), and the rest averaged, weighted by
    the mask: `sum(e * m * keep) / sum(m * keep)`, 0 when nothing is kept. Which pixels
    are dropped is decided on the errors' values, not differentiated: the gradient
    reaches the kept pixels only. A pixel tied with the largest kept error is kept, so
    ties may keep a few more than `n - floor(fraction * n)`.

    A robust photometric loss: in self-supervised depth and ego-motion, the pixels the
    current depth and pose cannot explain (objects too near and too fast for the warp's
    local gradient, occlusions, moving objects) have the largest errors and pull the
    pose away from the motion the rest of the image agrees on. The same trimming is the
    "trimmed" ICP of Chetverikov et al. (2002), applied to a photometric error map.

    Args:
        errors: `[B, H, W]` (or `[B, N]`) per-pixel errors, e.g. `photometric_error`.
        mask: optional weights of the shape of `errors`, or that shape with a last axis
            of 1 (the mask of `kt.geometry.projective_inverse_warp`). Defaults to
            `None` (all pixels, weight 1).
        fraction: the share of each sample's kept pixels to drop, in `[0, 1)`.
            Defaults to `0.2`.

    Returns:
        `[B]` losses.

    Raises:
        TypeError: `fraction` not a number.
        ValueError: `fraction` outside `[0, 1)`, `errors` of rank below 2, or a mask
            whose shape does not fit.

    Example:

    >>> import numpy as np
    >>> import kerastricks as kt
    >>> errors = np.array([[0.1, 0.2, 0.3, 9.0]], "float32")  # one outlier
    >>> np.asarray(kt.losses.trimmed_mean(errors, fraction=0.25))
    array([0.2], dtype=float32)
    >>> np.asarray(kt.losses.trimmed_mean(errors, fraction=0.0))  # the plain mean
    array([2.4], dtype=float32)
    """
    fraction = check_number("fraction", fraction, minimum=0.0, maximum=1.0, max_inclusive=False)
    errors = ops.convert_to_tensor(errors)
    if "float" not in str(errors.dtype):
        errors = ops.cast(errors, "float32")
    if len(errors.shape) < 2:
        fail(
            "`errors` must have rank 2 or more ([B, H, W] or [B, N]).",
            "errors.shape",
            tuple(errors.shape),
        )
    batch = ops.shape(errors)[0]
    flat = ops.reshape(errors, (batch, -1))
    if mask is None:
        weights = ops.ones_like(flat)
    else:
        mask = ops.cast(ops.convert_to_tensor(mask), errors.dtype)
        if len(mask.shape) == len(errors.shape) + 1 and mask.shape[-1] == 1:
            mask = ops.squeeze(mask, -1)
        alternative = ", or that shape with a last axis of 1"
        check_same_shape("mask", mask.shape, "errors", errors.shape, alternative)
        weights = ops.reshape(mask, (batch, -1))
    valid = weights > 0
    # Invalid pixels rank last; the threshold is the largest kept error of each sample.
    ranked = ops.where(valid, ops.stop_gradient(flat), ops.full_like(flat, float("inf")))
    count = ops.sum(ops.cast(valid, "int32"), axis=1)
    kept = count - ops.cast(ops.floor(fraction * ops.cast(count, "float32")), "int32")
    index = ops.maximum(kept - 1, 0)[:, None]
    threshold = ops.take_along_axis(ops.sort(ranked, axis=1), index, axis=1)
    keep = ops.cast(valid & (ranked <= threshold), flat.dtype) * weights
    total = ops.sum(ops.where(keep > 0, flat * keep, ops.zeros_like(flat)), axis=1)
    return total / ops.maximum(ops.sum(keep, axis=1), 1e-12)
