"""DAVIS 2017 video object segmentation: its folder layout, read and written."""

from pathlib import Path

import numpy as np

from kerastricks._checks import check_choice, check_int, fail
from kerastricks.datasets._image_files import read_rgb, resized

__all__ = ["check_davis", "davis", "write_davis_masks"]

SPLITS = ("train", "val")


def _frame_files(folder: Path, suffix: str) -> list:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == suffix)


def check_davis(directory, resolution: str = "480p") -> dict:
    """Checks the DAVIS 2017 layout (headers only, no pixels); returns the videos per split.

    The layout of the DAVIS 2017 train/val download: `DIR/ImageSets/2017/train.txt` and
    `val.txt` with one video name per line; `DIR/JPEGImages/480p/<video>/00000.jpg`,
    `00001.jpg`, ... numbered from 0 without gaps; `DIR/Annotations/480p/<video>/00000.png`
    ... palette PNGs (mode `P`) with one palette index per object (0 the background), the
    same size as the frames. Training uses only the frames of the `train` videos; every
    frame of a `val` video needs its annotation (the first is the given mask, the others
    are what the tracker is scored against).

    Args:
        directory: the DAVIS folder.
        resolution: the sub-folder of `JPEGImages` and `Annotations`. Defaults to `"480p"`.

    Returns:
        `{"train": [video names], "val": [video names]}` in the order of the lists.

    Raises:
        ValueError: naming the first file or folder that breaks the layout.

    Example:

    >>> import tempfile
    >>> import kerastricks as kt
    >>> kt.datasets.check_davis(tempfile.mkdtemp())
    Traceback (most recent call last):
    ValueError: DAVIS 2017 lists its train videos in this file. Received: missing='...train.txt'
    """
    from PIL import Image, UnidentifiedImageError

    root = Path(directory)
    if not root.is_dir():
        fail("The data folder does not exist (or is not a folder).", "directory", str(root))
    videos = {}
    for split in SPLITS:
        listing = root / "ImageSets" / "2017" / f"{split}.txt"
        if not listing.is_file():
            fail(f"DAVIS 2017 lists its {split} videos in this file.", "missing", str(listing))
        names = [line.strip() for line in listing.read_text().splitlines() if line.strip()]
        if not names:
            fail("The video list is empty (one video name per line).", "file", str(listing))
        videos[split] = names
    for split, names in videos.items():
        for name in names:
            frames_dir = root / "JPEGImages" / resolution / name
            if not frames_dir.is_dir():
                fail(f"A {split} video has no frame folder.", "missing", str(frames_dir))
            frames = _frame_files(frames_dir, ".jpg")
            for t, path in enumerate(frames):
                if path.name != f"{t:05d}.jpg":
                    expected = frames_dir / f"{t:05d}.jpg"
                    message = "Frames are numbered 00000.jpg, 00001.jpg, ... without gaps."
                    fail(message, "missing", str(expected))
            if len(frames) < 2:
                fail("A video needs at least 2 frames (.jpg).", "folder", str(frames_dir))
            if split == "train":
                continue
            with Image.open(frames[0]) as image:
                size = image.size
            for t in range(len(frames)):
                path = root / "Annotations" / resolution / name / f"{t:05d}.png"
                if not path.is_file():
                    fail("Every frame of a val video needs its annotation.", "missing", str(path))
                try:
                    with Image.open(path) as image:
                        mode, shape = image.mode, image.size
                except (OSError, UnidentifiedImageError) as error:
                    fail(f"Cannot read this annotation ({error}).", "file", str(path))
                if mode != "P":
                    message = f"Annotations are palette PNGs (mode P), not mode {mode}."
                    fail(message, "file", str(path))
                if shape != size:
                    message = (
                        f"An annotation is {shape[0]}x{shape[1]}, its frame {size[0]}x{size[1]}."
                    )
                    fail(message, "file", str(path))
    return videos


def davis(directory, split: str = "val", image_size=(240, 432), resolution: str = "480p"):
    """Reads the videos of a DAVIS 2017 split: frames resized, annotations at full size.

    Frames are decoded with Pillow, converted to RGB and resized to `image_size`
    (bilinear); annotations stay at their original size as palette indices (0 background,
    1..N the objects), as the DAVIS evaluation scores them.

    Reference:
        Pont-Tuset et al., "The 2017 DAVIS Challenge on Video Object Segmentation"
        (arXiv:1704.00675).

    Args:
        directory: the DAVIS folder, laid out as `check_davis` describes.
        split: `"train"` or `"val"`. Defaults to `"val"`.
        image_size: `(height, width)` of the returned frames. Defaults to `(240, 432)`.
        resolution: the sub-folder of `JPEGImages` and `Annotations`. Defaults to `"480p"`.

    Returns:
        A list of one dict per video: `name`; `frames`, float32 `[T, height, width, 3]` in
        `[0, 1]`; `masks`, uint8 `[T, H, W]` at the original size (`None` for a train
        video without a complete set of annotations); `palette`, the first annotation's
        palette (768 ints, `None` without one).

    Raises:
        ValueError: the layout is broken (see `check_davis`), or a frame does not decode.

    Example:

    >>> import tempfile, pathlib
    >>> from PIL import Image
    >>> import kerastricks as kt
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> (root / "ImageSets/2017").mkdir(parents=True)
    >>> for split in ("train", "val"):
    ...     _ = (root / f"ImageSets/2017/{split}.txt").write_text("dogs\\n")
    >>> for folder in ("JPEGImages", "Annotations"):
    ...     (root / folder / "480p/dogs").mkdir(parents=True)
    >>> for t in range(3):
    ...     Image.new("RGB", (8, 6)).save(root / f"JPEGImages/480p/dogs/{t:05d}.jpg")
    ...     Image.new("P", (8, 6)).save(root / f"Annotations/480p/dogs/{t:05d}.png")
    >>> video = kt.datasets.davis(root, "val", (4, 4))[0]
    >>> video["name"], video["frames"].shape, video["masks"].shape
    ('dogs', (3, 4, 4, 3), (3, 6, 8))
    """
    from PIL import Image

    check_choice("split", split, SPLITS)
    height, width = (check_int("image_size", s, minimum=1) for s in image_size)
    videos = []
    for name in check_davis(directory, resolution)[split]:
        frames_dir = Path(directory) / "JPEGImages" / resolution / name
        frames = []
        for path in _frame_files(frames_dir, ".jpg"):
            frames.append(resized(read_rgb(path, "frame"), height, width))
        annotations = Path(directory) / "Annotations" / resolution / name
        paths = [annotations / f"{t:05d}.png" for t in range(len(frames))]
        masks, palette = None, None
        if all(p.is_file() for p in paths):
            masks = []
            for path in paths:
                with Image.open(path) as image:
                    masks.append(np.asarray(image, dtype=np.uint8))
                    palette = palette or image.getpalette()
            masks = np.stack(masks)
        videos.append(
            {"name": name, "frames": np.stack(frames), "masks": masks, "palette": palette}
        )
    return videos


def write_davis_masks(directory, video: str, masks, palette=None) -> list:
    """Writes a video's predicted label maps in DAVIS's results layout, as palette PNGs.

    `directory/<video>/00000.png`, `00001.png`, ...: mode-`P` PNGs whose pixel values are
    the object indices, with `palette` (the annotations' palette, so results look like
    the ground truth), which the DAVIS evaluation reads.

    Args:
        directory: the results folder.
        video: the video's name.
        masks: integer label maps `[T, H, W]` with values in `0..255`.
        palette: a flat list of up to 768 RGB values. Defaults to `None`: Pillow's
            default palette.

    Returns:
        The paths written.

    Raises:
        ValueError: `masks` is not `[T, H, W]` or holds values outside `0..255`.

    Example:

    >>> import tempfile
    >>> import numpy as np
    >>> import kerastricks as kt
    >>> paths = kt.datasets.write_davis_masks(tempfile.mkdtemp(), "dogs", np.zeros((2, 3, 4)))
    >>> [p.name for p in paths]
    ['00000.png', '00001.png']
    """
    from PIL import Image

    masks = np.asarray(masks)
    if masks.ndim != 3 or masks.size and (masks.min() < 0 or masks.max() > 255):
        message = "`masks` must be label maps [T, H, W] with values 0..255."
        fail(message, "masks.shape", masks.shape)
    folder = Path(directory) / video
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for t, labels in enumerate(masks.astype(np.uint8)):
        image = Image.fromarray(labels, mode="P")
        if palette is not None:
            image.putpalette(palette)
        path = folder / f"{t:05d}.png"
        image.save(path)
        paths.append(path)
    return paths
