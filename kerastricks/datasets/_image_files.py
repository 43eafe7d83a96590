"""Decoding the users' image files, with errors that name the file (shared by the readers)."""

import numpy as np

from kerastricks._checks import fail


def read_rgb(path, what: str = "image"):
    """Decodes `path` as an RGB Pillow image (greyscale, palette, RGBA converted).

    A file that does not decode is a `ValueError` naming it ("Cannot read this `what`").
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return image.convert("RGB")
    except (OSError, UnidentifiedImageError, ValueError) as error:
        fail(f"Cannot read this {what} ({error}).", "file", str(path))


def resized(image, height: int, width: int, scale: float = 1.0 / 255.0):
    """A Pillow image resized bilinearly to `height x width`, as float32 times `scale`."""
    from PIL import Image

    pixels = image.resize((width, height), Image.BILINEAR)
    return np.asarray(pixels, dtype=np.float32) * np.float32(scale)
