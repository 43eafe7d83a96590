"""A depth test set of one's own: a list of images and a `.npy` of their true depth maps."""

from pathlib import Path

import numpy as np

from kerastricks._checks import check_int, fail
from kerastricks.datasets._image_files import read_rgb, resized

__all__ = ["check_depth_maps", "check_image_list", "depth_ground_truth"]


def check_image_list(path) -> list:
    """Checks a list file of images (one path per line) without decoding; returns the paths.

    Relative paths are relative to the list file's folder (put SfMLearner's
    `test_files_eigen.txt`, whose paths are relative to the KITTI raw folder, in that
    folder). Blank lines are skipped.

    Args:
        path: the list file.

    Returns:
        The image paths, in list order.

    Raises:
        ValueError: the list file is missing or empty, or names a file that does not
            exist (the first one).

    Example:

    >>> import kerastricks as kt
    >>> kt.datasets.check_image_list("no/such/list.txt")
    Traceback (most recent call last):
    ValueError: The image list file does not exist. Received: missing='no/such/list.txt'
    """
    listing = Path(path)
    if not listing.is_file():
        fail("The image list file does not exist.", "missing", str(listing))
    paths = []
    for number, line in enumerate(listing.read_text().splitlines(), 1):
        if not line.strip():
            continue
        image = listing.parent / line.strip()  # an absolute path stays as it is
        if not image.is_file():
            fail(f"Line {number} of the image list names no file.", "missing", str(image))
        paths.append(image)
    if not paths:
        fail("The image list is empty (one image path per line).", "file", str(listing))
    return paths


def check_depth_maps(path) -> tuple:
    """Checks a `.npy` of true depth maps `[N, H, W]` (0 = unknown) without loading it.

    Args:
        path: the `.npy` file (as `numpy.save` writes it).

    Returns:
        Its shape `(N, H, W)`.

    Raises:
        ValueError: the file is missing, is not a NumPy array file, or holds an array
            that is not a rank-3 array of real numbers.

    Example:

    >>> import tempfile, pathlib
    >>> import numpy as np
    >>> import kerastricks as kt
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "depth.npy"
    >>> np.save(path, np.ones((2, 4, 6), "float32"))
    >>> kt.datasets.check_depth_maps(path)
    (2, 4, 6)
    """
    path = Path(path)
    if not path.is_file():
        fail("The depth file does not exist.", "missing", str(path))
    try:
        maps = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError) as error:
        fail(f"Cannot read this as a .npy array ({error}).", "file", str(path))
    if not isinstance(maps, np.ndarray) or maps.ndim != 3 or maps.dtype.kind not in "fiu":
        shape = getattr(maps, "shape", None)
        message = "True depth maps are one .npy array of numbers [N, H, W] (0 = unknown)."
        fail(message, "shape", shape)
    return tuple(int(s) for s in maps.shape)


def depth_ground_truth(image_list, depth_file, image_size) -> dict:
    """Reads a depth test set: images resized for the network, true depth as it is.

    As SfMLearner's and vid2depth's Eigen-split evaluation: single frames listed in
    `image_list`, their true depth maps in `depth_file` in the same order (metres, 0
    where unknown; zero a crop such as Garg's to leave its pixels out). Predictions are
    scored at the true maps' size (`kt.metrics.depth_metrics`, median scaling, 80 m cap).

    Args:
        image_list: a list file, as `check_image_list` reads.
        depth_file: a `.npy` of `[N, H, W]` true depth maps, as `check_depth_maps` reads.
        image_size: `(height, width)` of the returned images.

    Returns:
        `{"images": float32 [N, height, width, 3] in [0, 1], "depth": [N, H, W] (a
        read-only memory map of the file), "paths": [N] image paths}`.

    Raises:
        ValueError: a file is missing or malformed, or the counts differ.

    Example:

    >>> import tempfile
    >>> from pathlib import Path
    >>> import numpy as np
    >>> import PIL.Image
    >>> import kerastricks as kt
    >>> root = Path(tempfile.mkdtemp())
    >>> PIL.Image.new("RGB", (12, 6)).save(root / "a.png")
    >>> _ = (root / "test.txt").write_text("a.png\\n")
    >>> np.save(root / "depth.npy", np.full((1, 6, 12), 5.0, "float32"))
    >>> data = kt.datasets.depth_ground_truth(root / "test.txt", root / "depth.npy", (4, 8))
    >>> data["images"].shape, data["depth"].shape
    ((1, 4, 8, 3), (1, 6, 12))
    """
    height, width = (check_int("image_size", s, minimum=1) for s in image_size)
    paths = check_image_list(image_list)
    count = check_depth_maps(depth_file)[0]
    if count != len(paths):
        message = f"The depth file holds {count} maps; the image list names {len(paths)} images."
        fail(message, "depth_file", str(depth_file))
    images = [resized(read_rgb(path), height, width) for path in paths]
    return {
        "images": np.stack(images),
        "depth": np.load(depth_file, mmap_mode="r"),
        "paths": [str(path) for path in paths],
    }
