"""Prepared video windows in the layout of SfMLearner's and vid2depth's data scripts."""

import math
from pathlib import Path

import numpy as np

from kerastricks._checks import check_choice, check_int, fail
from kerastricks.datasets._image_files import read_rgb, resized

__all__ = ["check_sfm_sequences", "sfm_sequences"]

SPLITS = ("train", "val")


def _windows(listing: Path) -> list:
    """The `(folder, frame)` pairs of a `train.txt` / `val.txt` (blank lines skipped)."""
    windows = []
    for number, line in enumerate(listing.read_text().splitlines(), 1):
        words = line.split()
        if not words:
            continue
        if len(words) != 2:
            message = "Each line of a window list is `<folder> <frame>` (two words)."
            fail(message, "line", f"{listing}:{number}: {line.strip()}")
        windows.append((words[0], words[1]))
    return windows


def _intrinsics(path: Path) -> np.ndarray:
    """The 3x3 camera matrix of a `<frame>_cam.txt`: `fx,0,cx,0,fy,cy,0,0,1`."""
    text = path.read_text().replace(",", " ").split()
    try:
        values = [float(word) for word in text]
    except ValueError:
        values = []
    finite = len(values) == 9 and all(math.isfinite(v) for v in values)
    if not finite or values[0] <= 0 or values[4] <= 0 or values[6:] != [0.0, 0.0, 1.0]:
        message = (
            "A camera file holds the 9 intrinsics `fx,0,cx,0,fy,cy,0,0,1` (fx, fy > 0) on one line."
        )
        fail(message, "file", str(path))
    return np.asarray(values, dtype=np.float64).reshape(3, 3)


def check_sfm_sequences(directory, sequence_length: int = 3) -> dict:
    """Checks the prepared-sequence layout (headers only, no pixels); returns the windows.

    The layout written by SfMLearner's `data/prepare_train_data.py` and vid2depth's
    `dataset/gen_data.py` (KITTI, Cityscapes or a video of one's own):

    - `DIR/train.txt` (and optionally `DIR/val.txt`): one window per line,
      `<folder> <frame>`;
    - `DIR/<folder>/<frame>.jpg`: the window's `sequence_length` frames side by side,
      oldest first (width `sequence_length * W`);
    - `DIR/<folder>/<frame>_cam.txt`: the camera matrix of one `W`-wide frame, row by row
      on one line, comma separated: `fx,0.,cx,0.,fy,cy,0.,0.,1.`.

    Args:
        directory: the prepared folder (the scripts' `--dump_root` / `--data_dir`).
        sequence_length: frames per window (the scripts' `--seq_length`). Defaults to 3.

    Returns:
        `{"train": [(folder, frame), ...], "val": [...]}` in the order of the lists
        (`val` is empty without `val.txt`).

    Raises:
        ValueError: naming the first file (or list line) that breaks the layout.

    Example:

    >>> import tempfile
    >>> import kerastricks as kt
    >>> kt.datasets.check_sfm_sequences(tempfile.mkdtemp())
    Traceback (most recent call last):
    ValueError: The prepared windows are listed in train.txt ... Received: missing='...train.txt'
    """
    sequence_length = check_int("sequence_length", sequence_length, minimum=2)
    root = Path(directory)
    if not root.is_dir():
        fail("The data folder does not exist (or is not a folder).", "directory", str(root))
    listings = {"train": root / "train.txt", "val": root / "val.txt"}
    if not listings["train"].is_file():
        message = "The prepared windows are listed in train.txt (`<folder> <frame>` per line)."
        fail(message, "missing", str(listings["train"]))
    # A recipe checks the folder while parsing its flags and again when it reads it (about
    # 1 ms a window): a layout checked already, with unchanged lists, is not checked again.
    key = (str(root.resolve()), sequence_length) + tuple(
        (p.stat().st_mtime_ns, p.stat().st_size) if p.is_file() else None for p in listings.values()
    )
    if key not in _CHECKED:
        _CHECKED.clear()  # the last folder checked only
        _CHECKED[key] = _check_windows(root, listings, sequence_length)
    return {split: list(pairs) for split, pairs in _CHECKED[key].items()}


_CHECKED = {}  # the last layout checked: (folder, sequence_length, lists' stats) -> windows


def _check_windows(root: Path, listings: dict, sequence_length: int) -> dict:
    from PIL import Image, UnidentifiedImageError

    windows = {}
    for split, listing in listings.items():
        windows[split] = _windows(listing) if listing.is_file() else []
    if not windows["train"]:
        fail("train.txt lists no window.", "file", str(listings["train"]))
    for pairs in windows.values():
        for folder, frame in pairs:
            image, camera = root / folder / f"{frame}.jpg", root / folder / f"{frame}_cam.txt"
            for path, what in ((image, "image"), (camera, "camera file")):
                if not path.is_file():
                    fail(f"A listed window has no {what}.", "missing", str(path))
            _intrinsics(camera)
            try:
                with Image.open(image) as opened:
                    width = opened.size[0]
            except (OSError, UnidentifiedImageError) as error:
                fail(f"Cannot read this image ({error}).", "file", str(image))
            if width % sequence_length:
                message = (
                    f"A window image holds {sequence_length} frames side by side: its width "
                    f"({width}) must be a multiple of {sequence_length}."
                )
                fail(message, "file", str(image))
    return windows


def sfm_sequences(
    directory,
    split: str = "train",
    image_size=(128, 416),
    sequence_length: int = 3,
    max_windows: int | None = None,
    seed: int = 0,
) -> dict:
    """Reads the windows of a prepared-sequence split, resized, with matching intrinsics.

    Each window image is cut into its `sequence_length` frames, each frame resized to
    `image_size` (bilinear, pixel centres kept aligned), and its camera matrix scaled to
    match with `kt.geometry.scale_intrinsics` (`sx = new_width / W`, `sy = new_height /
    H`, so `fx' = sx fx`, `cx' = sx cx + (sx - 1) / 2`, likewise for y). Everything is
    held in memory: `N * sequence_length * height * width * 3` floats; `max_windows`
    reads a random subset of a large split.

    Reference:
        Zhou et al., "Unsupervised Learning of Depth and Ego-Motion from Video" (CVPR
        2017); Mahjourian et al., "Unsupervised Learning of Depth and Ego-Motion from
        Monocular Video Using 3D Geometric Constraints" (CVPR 2018).

    Args:
        directory: the prepared folder, laid out as `check_sfm_sequences` describes.
        split: `"train"` or `"val"`. Defaults to `"train"`.
        image_size: `(height, width)` of the returned frames. Defaults to `(128, 416)`
            (the scripts' default size).
        sequence_length: frames per window. Defaults to 3.
        max_windows: read at most this many windows, drawn at random (kept in list
            order), or `None` for all. Defaults to `None`.
        seed: the seed of that draw. Defaults to 0.

    Returns:
        A dict: `"images"` float32 `[N, sequence_length, height, width, 3]` in `[0, 1]`;
        `"intrinsics"` float32 `[N, 3, 3]`; `"folder"` and `"frame"`, `[N]` string
        arrays naming each window.

    Raises:
        ValueError: the layout is broken (see `check_sfm_sequences`), or an image does
            not decode (naming the file).

    Example:

    >>> import tempfile, pathlib
    >>> from PIL import Image
    >>> import kerastricks as kt
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> (root / "drive").mkdir()
    >>> Image.new("RGB", (3 * 20, 10)).save(root / "drive" / "000001.jpg")
    >>> _ = (root / "drive" / "000001_cam.txt").write_text("40.,0.,9.5,0.,40.,4.5,0.,0.,1.")
    >>> _ = (root / "train.txt").write_text("drive 000001\\n")
    >>> data = kt.datasets.sfm_sequences(root, "train", (5, 10))
    >>> data["images"].shape, data["intrinsics"][0].tolist()
    ((1, 3, 5, 10, 3), [[20.0, 0.0, 4.5], [0.0, 20.0, 2.0], [0.0, 0.0, 1.0]])
    """
    from kerastricks.geometry import scale_intrinsics

    check_choice("split", split, SPLITS)
    height, width = (check_int("image_size", s, minimum=1) for s in image_size)
    windows = check_sfm_sequences(directory, sequence_length)[split]
    if max_windows is not None and check_int("max_windows", max_windows, 1) < len(windows):
        keep = np.random.default_rng(seed).choice(len(windows), max_windows, replace=False)
        windows = [windows[i] for i in sorted(keep)]
    root = Path(directory)
    images, intrinsics = [], []
    for folder, frame in windows:
        strip = read_rgb(root / folder / f"{frame}.jpg")
        frame_width, frame_height = strip.size[0] // sequence_length, strip.size[1]
        images.append(
            [
                resized(
                    strip.crop((k * frame_width, 0, (k + 1) * frame_width, frame_height)),
                    height,
                    width,
                )
                for k in range(sequence_length)
            ]
        )
        matrix = _intrinsics(root / folder / f"{frame}_cam.txt")
        scaled = scale_intrinsics(matrix, width / frame_width, height / frame_height)
        intrinsics.append(np.asarray(scaled, dtype=np.float32))
    return {
        "images": np.asarray(images, dtype=np.float32).reshape(
            len(windows), sequence_length, height, width, 3
        ),
        "intrinsics": np.asarray(intrinsics, dtype=np.float32).reshape(-1, 3, 3),
        "folder": np.asarray([w[0] for w in windows], dtype=str),
        "frame": np.asarray([w[1] for w in windows], dtype=str),
    }
