"""A folder of photos with one subfolder per class, as `image_dataset_from_directory` reads."""

from pathlib import Path

import numpy as np

from kerastricks._checks import check_int, fail
from kerastricks.datasets._image_files import read_rgb, resized

__all__ = ["check_image_folder", "image_folder"]

IMAGE_SUFFIXES = (".bmp", ".gif", ".jpeg", ".jpg", ".png")


def check_image_folder(directory) -> dict:
    """Checks the class-folder layout without reading pixels; returns `{class: [files]}`.

    The layout `keras.utils.image_dataset_from_directory` reads: `directory/<class>/<image>`
    with at least two class subfolders, each holding at least one image (`.jpg`, `.jpeg`,
    `.png`, `.bmp`, `.gif`, any case). Files with other suffixes (a `README.txt`, a
    `.DS_Store`) are ignored, as Keras ignores them; an image outside a class folder, or
    deeper than one level, breaks the layout. Classes and files are sorted by name.

    Args:
        directory: the folder.

    Returns:
        `{class name: [image paths]}`, classes in sorted order.

    Raises:
        ValueError: naming the first thing that breaks the layout.

    Example:

    >>> import tempfile, pathlib
    >>> import kerastricks as kt
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for name in ("cat/1.jpg", "dog/2.png"):
    ...     (root / name).parent.mkdir(exist_ok=True)
    ...     _ = (root / name).write_bytes(b"")
    >>> sorted(kt.datasets.check_image_folder(root))
    ['cat', 'dog']
    """
    root = Path(directory)
    if not root.is_dir():
        fail("The data folder does not exist (or is not a folder).", "directory", str(root))
    classes = {}
    for entry in sorted(root.iterdir()):
        if entry.is_file() and entry.suffix.lower() in IMAGE_SUFFIXES:
            fail(
                "Images belong in one subfolder per class (directory/<class>/<image>); "
                "this one is directly in the data folder.",
                "file",
                str(entry),
            )
        if not entry.is_dir() or entry.name.startswith("."):
            continue
        images = []
        for item in sorted(entry.rglob("*")):
            if item.is_file() and item.suffix.lower() in IMAGE_SUFFIXES:
                if item.parent != entry:
                    fail(
                        "Images must sit directly in their class folder "
                        "(directory/<class>/<image>), not deeper.",
                        "file",
                        str(item),
                    )
                images.append(item)
        if not images:
            fail("A class folder holds no image (.jpg, .png, ...).", "folder", str(entry))
        classes[entry.name] = images
    if len(classes) < 2:
        fail(
            "The data folder needs at least two class subfolders with images.",
            "directory",
            str(root),
        )
    return classes


def image_folder(directory, image_size=(224, 224)) -> tuple:
    """Reads a class-folder data set into memory as RGB images of one size.

    Every image is decoded with Pillow, converted to RGB (greyscale, palette and RGBA
    files are normal among colour photos) and resized to `image_size` with bilinear
    interpolation (aspect ratio not kept, as `image_dataset_from_directory` does by
    default). Labels are class indices in sorted class-name order.

    Args:
        directory: the folder, laid out as `check_image_folder` describes.
        image_size: `(height, width)` of the returned images. Defaults to `(224, 224)`.

    Returns:
        `(images, labels, class_names)`: float32 `[N, height, width, 3]` in `[0, 255]`,
        int32 `[N]`, and the list of class names.

    Raises:
        ValueError: the layout is broken, or a file does not decode as an image (naming
            the first such file).

    Example:

    >>> import tempfile, pathlib
    >>> import numpy as np
    >>> from PIL import Image
    >>> import kerastricks as kt
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for name, mode in (("cat/1.jpg", "RGB"), ("dog/2.png", "L")):
    ...     (root / name).parent.mkdir(exist_ok=True)
    ...     Image.new(mode, (30, 20)).save(root / name)
    >>> x, y, names = kt.datasets.image_folder(root, (8, 8))
    >>> x.shape, y.tolist(), names
    ((2, 8, 8, 3), [0, 1], ['cat', 'dog'])
    """
    height, width = (check_int("image_size", s, minimum=1) for s in image_size)
    classes = check_image_folder(directory)
    images, labels = [], []
    for label, files in enumerate(classes.values()):
        for path in files:
            images.append(resized(read_rgb(path), height, width, scale=1.0))
            labels.append(label)
    return np.stack(images), np.asarray(labels, dtype=np.int32), list(classes)
