"""Metrics: `keras.metrics.Metric` classes for `compile(metrics=...)` and their functions.

Depth accuracy, trajectory error, image similarity (SSIM, MS-SSIM, PSNR) and mask IoU (J).
"""

# The SSIM metrics use `kerastricks.losses._ssim_core` and the SSIM losses use these
# metrics' functions: initialising `kerastricks.losses` first keeps either import order
# (`import kerastricks.metrics` or `import kerastricks.losses` first) free of a cycle.
import kerastricks.losses  # noqa: F401, I001

from kerastricks.metrics.abs_rel_by_range import abs_rel_by_range
from kerastricks.metrics.depth_metric_classes import (
    AbsRel,
    DeltaAccuracy,
    DepthRMSE,
    DepthRMSELog,
    SqRel,
)
from kerastricks.metrics.depth_metrics import depth_metrics
from kerastricks.metrics.mask_iou import MaskIoU, mask_iou
from kerastricks.metrics.ms_ssim import MultiScaleSSIM, ms_ssim
from kerastricks.metrics.psnr import PSNR, psnr
from kerastricks.metrics.region_similarity import region_similarity
from kerastricks.metrics.ssim import SSIM, ssim
from kerastricks.metrics.trajectory_error import (
    TrajectoryError,
    snippet_positions,
    trajectory_error,
)

__all__ = [
    "AbsRel",
    "DeltaAccuracy",
    "DepthRMSE",
    "DepthRMSELog",
    "MaskIoU",
    "MultiScaleSSIM",
    "PSNR",
    "SSIM",
    "SqRel",
    "TrajectoryError",
    "abs_rel_by_range",
    "depth_metrics",
    "mask_iou",
    "ms_ssim",
    "psnr",
    "region_similarity",
    "snippet_positions",
    "ssim",
    "trajectory_error",
]
