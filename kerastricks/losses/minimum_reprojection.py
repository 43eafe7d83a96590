"""Per-pixel minimum reprojection over source frames, with auto-masking (Monodepth2)."""

from keras import ops

from kerastricks._checks import check_rank, check_same_shape

__all__ = ["minimum_reprojection"]

# Stands in for the error of an invalid warp, so that the minimum never picks it.
_INVALID = 1e4


def minimum_reprojection(errors, mask=None, identity_errors=None):
    """Per-sample mean, over the kept pixels, of the smallest error over the source frames.

    With `S` source frames warped into one target frame, a target pixel that is occluded
    or out of view in one source is usually visible in another: Monodepth2 takes, per
    pixel, the *minimum* of the `S` photometric errors instead of their mean. Pixels where
    `mask` is 0 are not candidates; a pixel with no valid source is dropped. With
    `identity_errors` (the errors of the *unwarped* sources against the target), a pixel
    is also dropped when its minimum reprojection error is not below its minimum identity
    error (auto-masking): pixels that look the same without any motion (a camera that
    stands still, objects moving with it, texture-less areas) carry no depth signal.
    Returns `sum(min_s e * keep) / sum(keep)` per sample, 0 if nothing is kept.

    Reference:
        Godard, Mac Aodha, Firman & Brostow, "Digging Into Self-Supervised Monocular
        Depth Estimation" (ICCV 2019), Sec. 3.3 (Eq. 4 and auto-masking, Eq. 5).

    Args:
        errors: `[B, S, H, W]` per-pixel photometric errors of each source frame warped
            into the target (e.g. `photometric_error`).
        mask: optional `[B, S, H, W]` or `[B, S, H, W, 1]` validity of each warp (the
            mask of `kt.geometry.projective_inverse_warp`). Defaults to `None` (all valid).
        identity_errors: optional `[B, S, H, W]` errors of the unwarped source frames.
            Defaults to `None` (no auto-masking).

    Returns:
        `[B]` losses.

    Raises:
        ValueError: tensors of the wrong rank or of different shapes.

    Example:

    >>> import numpy as np
    >>> import kerastricks as kt
    >>> errors = np.array([[[[0.1, 0.5]], [[0.3, 0.2]]]], "float32")  # B=1, S=2, 1x2
    >>> np.asarray(kt.losses.minimum_reprojection(errors))  # mean(0.1, 0.2)
    array([0.15], dtype=float32)
    >>> identity = np.array([[[[0.4, 0.1]], [[0.4, 0.1]]]], "float32")  # pixel 2 static
    >>> np.asarray(kt.losses.minimum_reprojection(errors, identity_errors=identity))
    array([0.1], dtype=float32)
    """
    errors = ops.convert_to_tensor(errors)
    if "float" not in str(errors.dtype):
        errors = ops.cast(errors, "float32")
    check_rank("errors", errors.shape, 4, "[B, S, H, W]")
    valid = ops.ones_like(errors, dtype="bool")
    if mask is not None:
        mask = ops.convert_to_tensor(mask)
        if len(mask.shape) == 5:
            mask = ops.squeeze(mask, -1)
        check_same_shape("mask", mask.shape, "errors", errors.shape)
        valid = mask > 0
    candidates = ops.where(valid, errors, ops.full_like(errors, _INVALID))
    minimum = ops.min(candidates, axis=1)
    keep = ops.any(valid, axis=1)
    if identity_errors is not None:
        identity_errors = ops.cast(ops.convert_to_tensor(identity_errors), errors.dtype)
        check_same_shape("identity_errors", identity_errors.shape, "errors", errors.shape)
        keep = keep & (minimum < ops.min(identity_errors, axis=1))
    keep = ops.cast(keep, errors.dtype)
    total = ops.sum(ops.where(keep > 0, minimum, ops.zeros_like(minimum)), axis=(1, 2))
    return total / ops.maximum(ops.sum(keep, axis=(1, 2)), 1.0)
