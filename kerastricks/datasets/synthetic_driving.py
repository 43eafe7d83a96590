"""Synthetic monocular driving video with exact depth and ego-motion: `synthetic_driving`."""

import numpy as np

from kerastricks._checks import check_int, check_type, fail
from kerastricks.datasets import _street_scene

__all__ = ["synthetic_driving"]

FOCAL_PER_WIDTH = 0.58  # KITTI: fx = 721 px for a 1242 px wide image


def synthetic_driving(
    num_sequences: int = 8,
    sequence_length: int = 10,
    image_size: tuple = (64, 192),
    seed: int = 0,
    as_dataset: bool = False,
    frame_step: int | tuple = 1,
):
    """Renders short driving videos through a static textured street, with ground truth.

    Each sequence is a new random street: a ground plane (road and pavement), buildings on
    both sides, parked cars and poles, all axis-aligned boxes textured with photographs
    bundled in scikit-image (`skimage.data`; nothing is downloaded), with mip-mapped
    texture sampling and constant per-face shading, so that a surface point looks nearly
    the same in neighbouring frames. A level pinhole camera (no pitch or roll) 1.65 m above
    the road drives forward at 0.6 to 1.4 m per frame with gentle turns (heading within a
    few degrees). Camera height, focal length (`0.58 * width`) and speed follow KITTI.
    The road is wide enough for the drive: nothing comes nearer than 1.2 m to the side of
    the camera's path (half the width of a car, plus 0.3 m), so no surface in view is
    nearer than 1.2 m.

    **The scene is static**: nothing moves but the camera, which is exactly what the
    view-synthesis losses of self-supervised depth (vid2depth, SfMLearner) assume. Pixels
    that see no surface (the sky) have depth 0 (invalid); their colour depends only on the
    viewing direction, as for a surface at infinity.

    The videos are cut into overlapping three-frame windows `(t-1, t, t+1)`, the middle
    frame being the target, as in the reference method's training; `frame_step=s` cuts
    `(t-s, t, t+s)` instead (the same videos: a wider baseline, as from a faster car), and
    `frame_step=(1, 2)` cuts the windows of both steps from one rendering of the videos.

    Reference:
        Mahjourian, Wicke & Angelova, "Unsupervised Learning of Depth and Ego-Motion from
        Monocular Video Using 3D Geometric Constraints" (CVPR 2018); Geiger et al., "Vision
        meets Robotics: The KITTI Dataset" (IJRR 2013) for the camera set-up.

    Convention:
        Camera frame x right, y down, z forward. Pixel `(u, v)` = (column, row) is the ray
        through `K^-1 [u, v, 1]^T`: pixel centres at integer coordinates, the principal
        point at `((W - 1) / 2, (H - 1) / 2)`. Depth is z-depth (along the optical axis,
        metres). `poses[:, k]` is the rigid 4x4 transform that maps points from the
        target (middle) camera's frame into source frame `k`'s camera frame (`k = 0` is
        frame `t-s`, `k = 1` is frame `t+s`, `s = frame_step`), as
        `kt.geometry.projective_inverse_warp` expects.

    Args:
        num_sequences: number of videos (each a different street). Defaults to 8.
        sequence_length: frames per video, at least 3. Defaults to 10.
        image_size: `(height, width)` in pixels, each at least 8. Defaults to `(64, 192)`.
        seed: the random seed; the same seed gives the same videos. Defaults to 0.
        as_dataset: return a `tf.data.Dataset` of per-window dicts instead of NumPy
            arrays. Defaults to `False`.
        frame_step: frames between the target and each source frame of a window, at
            least 1, or a sequence of distinct such steps: the windows of each step in
            turn (all of the first step's, then all of the next one's). Defaults to 1.

    Returns:
        A dict of NumPy arrays over the
        `N = num_sequences * sum(sequence_length - 2 * s)` windows over the steps `s` (or
        a `tf.data.Dataset` yielding one window's slices):
        `"images"` `[N, 3, H, W, 3]` float32 in `[0, 1]` (frames `t-s, t, t+s`);
        `"depth"` `[N, 3, H, W, 1]` float32 metres (0 = sky); `"poses"` `[N, 2, 4, 4]`
        float32 target-to-source transforms; `"intrinsics"` `[N, 3, 3]` float32;
        `"sequence"` `[N]` int32 video index; `"frame"` `[N]` int32 index of the target
        frame in its video; `"frame_step"` `[N]` int32 the window's step `s`.

    Raises:
        TypeError: an argument has the wrong type.
        ValueError: `num_sequences < 1`, a step below 1, repeated or no steps,
            `sequence_length < 2 * max(steps) + 1`, or an image side below 8.

    Example:

    >>> import numpy as np
    >>> import kerastricks as kt
    >>> data = kt.datasets.synthetic_driving(num_sequences=1, sequence_length=3,
    ...                                      image_size=(16, 48))
    >>> data["images"].shape, data["depth"].shape, data["poses"].shape
    ((1, 3, 16, 48, 3), (1, 3, 16, 48, 1), (1, 2, 4, 4))
    >>> bottom_row = data["depth"][0, 1, -1, :, 0]  # the road: height * fy / (v - cy)
    >>> round(float(np.median(bottom_row)), 4), round(1.65 * (0.58 * 48) / (15 - 7.5), 4)
    (6.1248, 6.1248)
    """
    num_sequences = check_int("num_sequences", num_sequences, minimum=1)
    steps = _frame_steps(frame_step)
    sequence_length = check_int("sequence_length", sequence_length, minimum=2 * max(steps) + 1)
    check_type("image_size", image_size, (tuple, list), "a (height, width) tuple")
    if len(image_size) != 2:
        fail("`image_size` must be a (height, width) pair.", "image_size", image_size)
    height = check_int("image_size[0]", image_size[0], minimum=8)
    width = check_int("image_size[1]", image_size[1], minimum=8)
    seed = check_int("seed", seed)
    check_type("as_dataset", as_dataset, bool, "a bool")

    intrinsics = np.array(
        [
            [FOCAL_PER_WIDTH * width, 0.0, (width - 1) / 2.0],
            [0.0, FOCAL_PER_WIDTH * width, (height - 1) / 2.0],
            [0.0, 0.0, 1.0],
        ]
    )
    rng = np.random.default_rng(seed)
    videos = [
        _render_video(rng, sequence_length, intrinsics, height, width) for _ in range(num_sequences)
    ]
    windows = {key: [] for key in ("images", "depth", "poses", "sequence", "frame", "frame_step")}
    for step in steps:
        for sequence, (images, depth, rotations, positions) in enumerate(videos):
            for t in range(step, sequence_length - step):
                frame_indices = [t - step, t, t + step]
                windows["images"].append(images[frame_indices])
                windows["depth"].append(depth[frame_indices])
                windows["poses"].append(
                    [_target_to_source(rotations, positions, t, s) for s in frame_indices[::2]]
                )
                windows["sequence"].append(sequence)
                windows["frame"].append(t)
                windows["frame_step"].append(step)
    data = {
        "images": np.clip(np.stack(windows["images"]), 0.0, 1.0).astype(np.float32),
        "depth": np.stack(windows["depth"]),
        "poses": np.asarray(windows["poses"], np.float32),
        "intrinsics": np.repeat(intrinsics[None].astype(np.float32), len(windows["frame"]), 0),
        "sequence": np.asarray(windows["sequence"], np.int32),
        "frame": np.asarray(windows["frame"], np.int32),
        "frame_step": np.asarray(windows["frame_step"], np.int32),
    }
    if as_dataset:
        import tensorflow as tf

        return tf.data.Dataset.from_tensor_slices(data)
    return data


def _frame_steps(frame_step):
    """The steps as a tuple of distinct positive ints, from one int or a sequence."""
    if not isinstance(frame_step, (list, tuple)):
        return (check_int("frame_step", frame_step, minimum=1),)
    steps = tuple(check_int("frame_step", step, minimum=1) for step in frame_step)
    if not steps or len(set(steps)) != len(steps):  # ints first: set() of a list would fail
        fail("`frame_step` must be one step or distinct steps.", "frame_step", frame_step)
    return steps


def _render_video(rng, length, intrinsics, height, width):
    """One video through a new random street: frames, depth, camera rotations, positions."""
    rotations, positions = _trajectory(rng, length)
    lane = np.abs(positions[:, 0]).max()
    street = _street_scene.build_street(rng, positions[-1, 2] + 130.0, lane)
    frames = [
        _street_scene.render(street, r, p, intrinsics, height, width)
        for r, p in zip(rotations, positions, strict=True)
    ]
    images = np.stack([f[0] for f in frames])
    depth = np.stack([f[1] for f in frames])[..., None].astype(np.float32)
    return images, depth, rotations, positions


def _trajectory(rng, length):
    """Camera-to-world rotations `[T, 3, 3]` and positions `[T, 3]` of a gentle drive."""
    speed = rng.uniform(0.6, 1.4) * (1.0 + 0.05 * rng.standard_normal(length))
    t = np.arange(length)
    heading = rng.uniform(0.01, 0.06) * np.sin(
        2 * np.pi * t / rng.uniform(15, 40) + rng.uniform(0, 6.3)
    )
    rotations = np.stack([_yaw(h) for h in heading])
    positions = np.zeros((length, 3))
    positions[0] = (rng.uniform(-1.0, 1.0), 0.0, rng.uniform(0.0, 20.0))
    for i in range(1, length):
        positions[i] = positions[i - 1] + speed[i] * (_yaw(heading[i - 1]) @ [0.0, 0.0, 1.0])
    return rotations, positions


def _target_to_source(rotations, positions, target, source):
    """`inv(C_source) @ C_target`, with `C` the camera-to-world transforms."""
    to_world = np.eye(4)
    to_world[:3, :3], to_world[:3, 3] = rotations[target], positions[target]
    from_world = np.eye(4)
    from_world[:3, :3] = rotations[source].T
    from_world[:3, 3] = -rotations[source].T @ positions[source]
    return from_world @ to_world


def _yaw(angle):  # about the (downward) y axis: positive turns right
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
