"""Deprecated: multi-scale SSIM is a similarity and lives in `kt.metrics.ms_ssim`."""

from kerastricks._deprecation import deprecated_alias
from kerastricks.metrics.ms_ssim import ms_ssim as _ms_ssim

__all__ = ["ms_ssim"]

ms_ssim = deprecated_alias(_ms_ssim, "kt.losses.ms_ssim", "kt.metrics.ms_ssim")
