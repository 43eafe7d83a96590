"""Boundary measure F: how well a predicted mask's contour matches the true one."""

import math

import numpy as np
from skimage.morphology import dilation, disk

from kerastricks._checks import check_number, fail

__all__ = ["boundary_measure"]


def boundary_measure(true_mask, predicted_mask, bound_th: float = 0.008):
    """DAVIS's boundary accuracy F of a predicted mask against the true one.

    Each mask's boundary is the set of its pixels whose right, lower or lower-right
    neighbour (inside the image) is on the other side of the mask's edge: a contour
    one pixel wide, half a pixel towards the origin from the true edge. A boundary pixel
    of one mask matches when a boundary pixel of the other lies within `tolerance`
    pixels (a disk), where `tolerance = ceil(bound_th * sqrt(H**2 + W**2))` (or
    `bound_th` pixels itself when `bound_th >= 1`). Precision P is the matched
    fraction of the predicted boundary, recall R that of the true boundary, and
    `F = 2PR / (P + R)` (0 when both are 0). Empty masks: both empty gives F = 1,
    exactly one empty gives F = 0.

    This is the F of the DAVIS 2016/2017 benchmarks; their "F mean" of a data set is the
    mean of F over the frames of each object, then over objects.

    Reference:
        Perazzi et al., "A Benchmark Dataset and Evaluation Methodology for Video Object
        Segmentation" (CVPR 2016), contour accuracy F; Martin, Fowlkes & Malik,
        "Learning to detect natural image boundaries using local brightness, color, and
        texture cues" (TPAMI 2004), the boundary map.

    Args:
        true_mask: a binary mask `[H, W]`, or masks `[T, H, W]` (non-zero is the object).
        predicted_mask: the predicted mask(s), the same shape.
        bound_th: the matching tolerance as a fraction of the image diagonal, or in
            pixels when at least 1. Defaults to `0.008` (DAVIS's).

    Returns:
        A Python float for one mask pair; a float64 NumPy array `[T]` for `[T, H, W]`.

    Raises:
        ValueError: the masks differ in shape or are not `[H, W]` or `[T, H, W]`, or
            `bound_th` is not positive.

    Example:

    >>> import numpy as np
    >>> import kerastricks as kt
    >>> truth = np.zeros((100, 100), bool)
    >>> truth[20:60, 20:60] = True
    >>> kt.tracking.boundary_measure(truth, truth)
    1.0
    >>> far = np.roll(truth, 10, axis=1)         # 10 px off; the tolerance is 2 px
    >>> kt.tracking.boundary_measure(truth, far)  # 70 of the 160 contour pixels match
    0.4375
    """
    check_number("bound_th", bound_th, minimum=0.0, min_inclusive=False)
    truth = np.asarray(true_mask) != 0
    predicted = np.asarray(predicted_mask) != 0
    if truth.shape != predicted.shape or truth.ndim not in (2, 3):
        fail(
            "`true_mask` and `predicted_mask` must have the same shape, [H, W] or [T, H, W].",
            "shapes",
            (np.shape(true_mask), np.shape(predicted_mask)),
        )
    if truth.ndim == 3:
        scores = [_frame_f(t, p, bound_th) for t, p in zip(truth, predicted)]
        return np.asarray(scores, dtype=np.float64)
    return _frame_f(truth, predicted, bound_th)


def _boundary(mask):
    """Pixels that differ from their right, lower or lower-right neighbour in the image."""
    edge = np.zeros_like(mask)
    edge[:, :-1] |= mask[:, :-1] != mask[:, 1:]
    edge[:-1, :] |= mask[:-1, :] != mask[1:, :]
    edge[:-1, :-1] |= mask[:-1, :-1] != mask[1:, 1:]
    return edge


def _frame_f(truth, predicted, bound_th):
    tolerance = bound_th if bound_th >= 1 else math.ceil(bound_th * math.hypot(*truth.shape))
    true_edge, predicted_edge = _boundary(truth), _boundary(predicted)
    true_count, predicted_count = int(true_edge.sum()), int(predicted_edge.sum())
    if true_count == 0 or predicted_count == 0:
        return 1.0 if true_count == predicted_count else 0.0
    footprint = disk(tolerance)  # outside the image counts as no boundary (mode="ignore")
    near_true = dilation(true_edge, footprint, mode="ignore")
    near_predicted = dilation(predicted_edge, footprint, mode="ignore")
    precision = np.sum(predicted_edge & near_true) / predicted_count
    recall = np.sum(true_edge & near_predicted) / true_count
    if precision + recall == 0:
        return 0.0
    return float(2 * precision * recall / (precision + recall))
