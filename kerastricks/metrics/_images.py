"""Input checks shared by `ssim`, `ms_ssim` and `psnr`, and the SSIM arguments of the SSIM
losses and metrics (not public)."""

import warnings

import keras
from keras import ops

from kerastricks._checks import fail
from kerastricks.losses import _ssim_core as core


def check_images(x, y, max_val, names=("x", "y")):
    """Converts both image batches to tensors; rejects non-numeric ones with a `TypeError`
    and warns when integer images meet a `max_val` of at most 1."""
    tensors = []
    for name, value in zip(names, (x, y), strict=True):
        if isinstance(value, (str, bytes)):
            fail(f"`{name}` must be a numeric image batch [B, H, W, C].", name, value, TypeError)
        value = ops.convert_to_tensor(value)
        dtype = keras.backend.standardize_dtype(value.dtype)
        if dtype == "bool" or not ("float" in dtype or "int" in dtype):
            fail(
                f"`{name}` must be a numeric image batch [B, H, W, C], not {dtype}.",
                f"{name}.dtype",
                dtype,
                TypeError,
            )
        if "int" in dtype and max_val <= 1.0:
            warnings.warn(
                f"`{name}` holds integer ({dtype}) images but `max_val={max_val}`: 8-bit "
                "images need `max_val=255` (or divide them by 255 first), else the SSIM "
                "constants are far too small and the value is wrong.",
                stacklevel=3,
            )
        tensors.append(value)
    return tensors


class SSIMArguments:
    """Keeps the validated SSIM arguments of a loss or metric as same-named attributes."""

    ssim_argument_names = ("max_val", "filter_size", "filter_sigma", "k1", "k2", "window")

    def set_ssim_arguments(self, max_val, filter_size, filter_sigma, k1, k2, window):
        checked = core.check_ssim_arguments(max_val, filter_size, filter_sigma, k1, k2, window)
        for name, value in zip(self.ssim_argument_names, checked, strict=True):
            setattr(self, name, value)

    def ssim_arguments(self):
        return {name: getattr(self, name) for name in self.ssim_argument_names}
