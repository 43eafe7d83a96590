"""Region similarity J: the mean intersection over union of tracked object masks."""

import numpy as np

from kerastricks._checks import check_type, fail

__all__ = ["region_similarity"]


def region_similarity(true_labels, predicted_labels, skip_first: bool = True) -> np.ndarray:
    """Region similarity J of each object of a video: its IoU averaged over frames.

    For every object id `k = 1 .. max(true_labels)` (0 is the background; frame 0 counts) and every
    frame, the intersection over union of the pixels labelled `k` in the truth and in
    the prediction; a frame where both are empty counts as 1 (the DAVIS convention).
    The J of the object is the mean over frames; the J of a data set (the number papers
    report as "J mean") is the mean over all its objects.

    Convention: frame 0 holds the given masks, so `skip_first=True` leaves it out. The
    official DAVIS 2017 evaluation also leaves out the last frame; this function does not.

    Reference:
        Perazzi et al., "A Benchmark Dataset and Evaluation Methodology for Video Object
        Segmentation" (CVPR 2016), region similarity J.

    Args:
        true_labels: integer label maps `[T, H, W]` (0 background, 1..N objects).
        predicted_labels: integer label maps `[T, H, W]`.
        skip_first: leave frame 0 out of the mean. Defaults to `True`.

    Returns:
        Float64 NumPy array `[N]`: the J of objects 1..N (empty if there is none).

    Raises:
        TypeError: `skip_first` is not a bool.
        ValueError: the label maps differ in shape, are not `[T, H, W]`, or leave no
            frame to score.

    Example:

    >>> import numpy as np
    >>> import kerastricks as kt
    >>> truth = np.array([[[1, 1, 0, 0]], [[0, 1, 1, 0]]])      # [T=2, H=1, W=4]
    >>> copied = np.array([[[1, 1, 0, 0]], [[1, 1, 0, 0]]])     # first mask, not moved
    >>> kt.metrics.region_similarity(truth, copied)            # frame 1: 1 / 3
    array([0.33333333])
    """
    check_type("skip_first", skip_first, bool, "a bool")
    truth = np.asarray(true_labels)
    predicted = np.asarray(predicted_labels)
    if truth.shape != predicted.shape or truth.ndim != 3:
        fail(
            "`true_labels` and `predicted_labels` must both be label maps [T, H, W].",
            "shapes",
            (truth.shape, predicted.shape),
        )
    num_objects = int(truth.max(initial=0))
    if skip_first:
        truth, predicted = truth[1:], predicted[1:]
    if len(truth) == 0:
        fail(
            "No frame left to score: give at least 2 frames with skip_first=True.",
            "true_labels.shape",
            np.shape(true_labels),
        )
    scores = []
    for k in range(1, num_objects + 1):
        a, b = truth == k, predicted == k
        intersection = np.sum(a & b, axis=(1, 2))
        union = np.sum(a | b, axis=(1, 2))
        iou = np.where(union > 0, intersection / np.maximum(union, 1), 1.0)
        scores.append(iou.mean())
    return np.asarray(scores, dtype=np.float64)
