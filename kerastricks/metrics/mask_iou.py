"""Mask IoU, the region similarity J of one object per frame: `mask_iou` and `MaskIoU`."""

from keras import ops

from kerastricks._checks import check_number, fail
from kerastricks._registry import register
from kerastricks.metrics._sample_mean import SampleMean

__all__ = ["mask_iou", "MaskIoU"]


def mask_iou(y_true, y_pred, threshold=0.5):
    """Intersection over union of each true and predicted binary mask.

    A pixel belongs to a mask where its value exceeds `threshold` (in both `y_true` and
    `y_pred`, as `keras.metrics.BinaryIoU` thresholds); the IoU of a sample is
    `|T & P| / |T | P|` over all its pixels, and 1 when both masks are empty (the DAVIS
    convention). The mean over the frames of one object is its region similarity J
    (`kt.metrics.region_similarity` does this for whole label videos); unlike
    `keras.metrics.BinaryIoU`, which pools pixels over the data set, every sample counts
    once.

    Reference:
        Perazzi et al., "A Benchmark Dataset and Evaluation Methodology for Video Object
        Segmentation" (CVPR 2016), region similarity J.

    Args:
        y_true: `[B, ...]` true masks (0/1, or probabilities).
        y_pred: `[B, ...]` predicted probabilities or masks, same shape.
        threshold: a pixel is in a mask where its value exceeds this. Defaults to `0.5`.

    Returns:
        `[B]` float32 IoUs in `[0, 1]`.

    Raises:
        ValueError: shapes differ or have no batch axis; `threshold` is not finite.
        TypeError: `threshold` is not a number.

    Example:

    >>> import numpy as np
    >>> import kerastricks as kt
    >>> truth = np.array([[1, 1, 0, 0], [0, 0, 0, 0]], "float32")
    >>> guess = np.array([[0.0, 0.9, 0.8, 0.1], [0.2, 0.0, 0.1, 0.3]], "float32")
    >>> np.asarray(kt.metrics.mask_iou(truth, guess)).round(4)  # 1 / 3; both empty: 1
    array([0.3333, 1.    ], dtype=float32)
    """
    threshold = check_number("threshold", threshold)
    y_true, y_pred = ops.convert_to_tensor(y_true), ops.convert_to_tensor(y_pred)
    if len(y_true.shape) < 1 or tuple(y_true.shape) != tuple(y_pred.shape):
        fail(
            "`y_true` and `y_pred` must be masks of the same shape [B, ...].",
            "shapes",
            (tuple(y_true.shape), tuple(y_pred.shape)),
        )
    axes = tuple(range(1, len(y_true.shape)))
    true = ops.cast(ops.cast(y_true, "float32") > threshold, "float32")
    pred = ops.cast(ops.cast(y_pred, "float32") > threshold, "float32")
    intersection = ops.sum(true * pred, axis=axes)
    union = ops.sum(ops.maximum(true, pred), axis=axes)
    return ops.where(union > 0, intersection / ops.maximum(union, 1.0), 1.0)


@register
class MaskIoU(SampleMean):
    """The mask IoU metric (J): mean per-sample IoU of binary masks over all samples seen.

    Each sample contributes its `mask_iou`; the result is the (sample-weighted) mean over
    every sample of every batch and replica since the last reset: for the frames of one
    object, its region similarity J. Higher is better.

    Reference:
        Perazzi et al. (CVPR 2016), region similarity J.

    Args:
        threshold: a pixel is in a mask where its value exceeds this. Defaults to `0.5`.
        name: metric name. Defaults to `"mask_iou"`.
        dtype: dtype of the state. Defaults to `None` (float32).

    Call arguments:
        y_true: `[B, ...]` true masks.
        y_pred: `[B, ...]` predicted probabilities or masks.
        sample_weight: optional `[B]` weights.

    Raises:
        ValueError, TypeError: a bad `threshold`, at construction.

    Example:

    >>> import numpy as np
    >>> import kerastricks as kt
    >>> metric = kt.metrics.MaskIoU()
    >>> metric.update_state(np.array([[1.0, 1.0, 0.0]]), np.array([[0.9, 0.2, 0.0]]))
    >>> metric.update_state(np.array([[1.0, 0.0, 0.0]]), np.array([[1.0, 0.0, 0.0]]))
    >>> float(metric.result())  # (1/2 + 1) / 2
    0.75
    """

    argument_names = ("threshold",)

    def __init__(self, threshold=0.5, name="mask_iou", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.threshold = check_number("threshold", threshold)

    def per_sample(self, y_true, y_pred):
        return mask_iou(y_true, y_pred, self.threshold), None
