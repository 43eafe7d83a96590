"""Keras losses and loss functions of kerastricks."""

from kerastricks.losses.depth_consistency import depth_consistency, depth_difference
from kerastricks.losses.depth_smoothness import DepthSmoothness, depth_smoothness
from kerastricks.losses.dssim import DSSIM, dssim
from kerastricks.losses.global_weighted_mean import GlobalWeightedMean
from kerastricks.losses.icp_alignment import ICPAlignment, icp_alignment
from kerastricks.losses.masked_reconstruction import MaskedReconstruction, masked_reconstruction
from kerastricks.losses.minimum_reprojection import minimum_reprojection
from kerastricks.losses.ms_ssim import ms_ssim
from kerastricks.losses.photometric_error import photometric_error
from kerastricks.losses.quantized_color_cross_entropy import (
    QuantizedColorCrossEntropy,
    quantized_color_cross_entropy,
)
from kerastricks.losses.ssim import SSIM, SSIMLoss, ssim, ssim_loss
from kerastricks.losses.trimmed_mean import trimmed_mean

__all__ = [
    "DSSIM",
    "DepthSmoothness",
    "GlobalWeightedMean",
    "ICPAlignment",
    "MaskedReconstruction",
    "QuantizedColorCrossEntropy",
    "SSIM",
    "SSIMLoss",
    "depth_consistency",
    "depth_difference",
    "depth_smoothness",
    "dssim",
    "icp_alignment",
    "masked_reconstruction",
    "minimum_reprojection",
    "ms_ssim",
    "photometric_error",
    "quantized_color_cross_entropy",
    "ssim",
    "ssim_loss",
    "trimmed_mean",
]
