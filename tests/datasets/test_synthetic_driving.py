import numpy as np
import pytest
import tensorflow as tf

import kerastricks as kt

HEIGHT, WIDTH = 32, 96
CAMERA_HEIGHT = 1.65  # metres, documented in synthetic_driving


@pytest.fixture(scope="module")
def data():
    return kt.datasets.synthetic_driving(
        num_sequences=2, sequence_length=6, image_size=(HEIGHT, WIDTH), seed=3
    )


def test_shapes_dtypes_and_ranges(data):
    n = 2 * (6 - 2)  # windows: sequences * (length - 2)
    assert data["images"].shape == (n, 3, HEIGHT, WIDTH, 3)
    assert data["depth"].shape == (n, 3, HEIGHT, WIDTH, 1)
    assert data["poses"].shape == (n, 2, 4, 4)
    assert data["intrinsics"].shape == (n, 3, 3)
    for key in ("images", "depth", "poses", "intrinsics"):
        assert data[key].dtype == np.float32 and np.all(np.isfinite(data[key]))
    assert data["images"].min() >= 0.0 and data["images"].max() <= 1.0
    assert data["depth"].min() >= 0.0  # 0 marks the sky
    np.testing.assert_array_equal(data["sequence"], [0, 0, 0, 0, 1, 1, 1, 1])
    np.testing.assert_array_equal(data["frame"], [1, 2, 3, 4, 1, 2, 3, 4])


def test_intrinsics_follow_the_documented_camera(data):
    # fx = fy = 0.58 * width, principal point at the image centre with integer pixel centres.
    f = 0.58 * WIDTH
    expected = [[f, 0, (WIDTH - 1) / 2], [0, f, (HEIGHT - 1) / 2], [0, 0, 1]]
    np.testing.assert_allclose(data["intrinsics"][0], expected, rtol=1e-6)


def test_road_depth_matches_the_flat_ground_closed_form(data):
    # A level camera at height h sees the plane y = h at z-depth h * fy / (v - cy) in row v.
    f, cy, cx = 0.58 * WIDTH, (HEIGHT - 1) / 2, (WIDTH - 1) / 2
    rows = np.arange(HEIGHT)
    ground = np.where(rows > cy, CAMERA_HEIGHT * f / np.maximum(rows - cy, 1e-9), np.inf)
    depth = data["depth"][..., 0]  # [N, 3, H, W]
    centre = depth[:, :, :, int(cx) - 1 : int(cx) + 2]  # the road straight ahead
    near_rows = ground < 20.0  # farther down the street a car may stand in the way
    expected = np.broadcast_to(ground[:, None], centre.shape[2:])[near_rows]
    np.testing.assert_allclose(centre[:, :, near_rows], np.broadcast_to(
        expected, centre[:, :, near_rows].shape), rtol=1e-4)  # fmt: skip
    # Nothing lies under the road: every surface in a row below the horizon is nearer.
    below = depth[:, :, rows > cy + 0.5, :]
    limit = ground[rows > cy + 0.5][None, None, :, None]
    assert np.all((below == 0) | (below <= limit * (1 + 1e-4)))


def test_no_surface_comes_nearer_than_a_car_allows():
    # The camera rides at the centre of a 1.8 m wide car, so nothing it drives past is
    # nearer than 0.9 m to its side, plus 0.3 m of room (CLEARANCE, 1.2 m): a surface in
    # view with lateral offset >= 1.2 m has z-depth >= 1.2 m, since the half field of view
    # is under 45 degrees (tan = cx / fx = 0.85) and the heading within a few degrees.
    # An earlier version drove the camera through parked cars (0.35 m in these streets).
    data = kt.datasets.synthetic_driving(24, 12, image_size=(16, 48), seed=0)
    depth = data["depth"]
    assert depth[depth > 0].min() >= 1.2


def test_poses_are_rigid_and_chain(data):
    poses = data["poses"].astype(np.float64)
    rotations = poses[..., :3, :3]
    eye = np.broadcast_to(np.eye(3), rotations.shape)
    np.testing.assert_allclose(rotations @ np.swapaxes(rotations, -1, -2), eye, atol=1e-5)
    np.testing.assert_allclose(np.linalg.det(rotations), 1.0, atol=1e-5)
    np.testing.assert_allclose(poses[..., 3, :], np.broadcast_to([0, 0, 0, 1], (8, 2, 4)))
    # Driving forward: frame t-1 is behind the target (points move to larger z), t+1 ahead.
    assert np.all(poses[:, 0, 2, 3] > 0.4) and np.all(poses[:, 1, 2, 3] < -0.4)
    # Window t's (t -> t+1) is the inverse of window t+1's (t+1 -> t), same video.
    for i in range(len(poses) - 1):
        if data["sequence"][i] == data["sequence"][i + 1]:
            np.testing.assert_allclose(poses[i, 1] @ poses[i + 1, 0], np.eye(4), atol=1e-5)


def _reproject(image, target_depth, source_depth, pose, intrinsics):
    """NumPy reference warp: back-project, move by `pose`, project, sample bilinearly.

    Returns the warped source image, the in-view mask, the moved points' depth and the
    source's inverse depth sampled there (bilinear; exact on planes, where inverse depth
    is affine in the pixel coordinates; NaN next to the sky).
    """
    h, w = target_depth.shape
    v, u = np.mgrid[0:h, 0:w].astype(np.float64)
    points = np.linalg.inv(intrinsics) @ np.stack([u.ravel(), v.ravel(), np.ones(h * w)])
    moved = pose[:3, :3] @ (points * target_depth.ravel()) + pose[:3, 3:]
    pixels = intrinsics @ moved
    z = moved[2]
    us, vs = pixels[0] / z, pixels[1] / z
    valid = (target_depth.ravel() > 0) & (z > 0) & (us >= 0) & (us <= w - 1)
    valid &= (vs >= 0) & (vs <= h - 1)
    us, vs = np.clip(us, 0, w - 1), np.clip(vs, 0, h - 1)
    u0 = np.minimum(np.floor(us), w - 2).astype(int)
    v0 = np.minimum(np.floor(vs), h - 2).astype(int)
    a, b = (us - u0)[:, None], (vs - v0)[:, None]

    def sample(array):
        top = (1 - a) * array[v0, u0] + a * array[v0, u0 + 1]
        return (1 - b) * top + b * ((1 - a) * array[v0 + 1, u0] + a * array[v0 + 1, u0 + 1])

    inverse = np.where(source_depth > 0, 1.0 / np.maximum(source_depth, 1e-9), np.nan)
    return (
        sample(image).reshape(h, w, -1),
        valid.reshape(h, w),
        z.reshape(h, w),
        sample(inverse[..., None]).reshape(h, w),
    )


def test_ground_truth_warp_reproduces_the_neighbouring_frames():
    # At the default size, where depth edges are a small share of the pixels.
    data = kt.datasets.synthetic_driving(1, 4, image_size=(64, 192), seed=5)
    for i in (0, 1):
        target = data["images"][i, 1]
        for k, source in ((0, 0), (1, 2)):
            warped, valid, z, source_inverse = _reproject(
                data["images"][i, source].astype(np.float64),
                data["depth"][i, 1, ..., 0].astype(np.float64),
                data["depth"][i, source, ..., 0].astype(np.float64),
                data["poses"][i, k].astype(np.float64),
                data["intrinsics"][i].astype(np.float64),
            )
            assert valid.mean() > 0.5  # most of the image sees surfaces in both frames
            # Geometry: the moved point lies on the source's surface, except at depth edges
            # (where bilinear interpolation straddles two surfaces) and disocclusions.
            agree = np.abs(z * source_inverse - 1.0) < 0.01  # NaN (sky) compares False
            assert agree[valid].mean() > 0.8
            # Photometry: the warped source reproduces the target on those pixels.
            error = np.abs(warped - target).mean(axis=-1)[valid & agree]
            assert np.median(error) < 0.02
            assert (error < 0.1).mean() > 0.95


def test_same_seed_same_video_other_seed_other_street():
    first = kt.datasets.synthetic_driving(1, 3, image_size=(16, 32), seed=7)
    again = kt.datasets.synthetic_driving(1, 3, image_size=(16, 32), seed=7)
    other = kt.datasets.synthetic_driving(1, 3, image_size=(16, 32), seed=8)
    for key in first:
        np.testing.assert_array_equal(first[key], again[key])
    assert not np.array_equal(first["images"], other["images"])


def test_as_dataset_yields_the_same_windows():
    arrays = kt.datasets.synthetic_driving(1, 4, image_size=(16, 32), seed=1)
    dataset = kt.datasets.synthetic_driving(1, 4, image_size=(16, 32), seed=1, as_dataset=True)
    assert isinstance(dataset, tf.data.Dataset)
    assert dataset.element_spec["images"].shape == (3, 16, 32, 3)
    elements = list(dataset.as_numpy_iterator())
    assert len(elements) == 2
    for key in arrays:
        np.testing.assert_array_equal(elements[1][key], arrays[key][1])


def test_frame_step_cuts_wider_windows_from_the_same_videos(data):
    wide = kt.datasets.synthetic_driving(2, 6, image_size=(HEIGHT, WIDTH), seed=3, frame_step=2)
    assert wide["images"].shape == (2 * (6 - 4), 3, HEIGHT, WIDTH, 3)
    np.testing.assert_array_equal(wide["frame"], [2, 3, 2, 3])
    np.testing.assert_array_equal(wide["sequence"], [0, 0, 1, 1])

    def video(key, sequence):  # frames 0..5 of a video from the step-1 windows
        windows = data[key][data["sequence"] == sequence]
        return np.concatenate([windows[0, :2], windows[1:, 1], windows[-1, 2:]])

    for index, (sequence, t) in enumerate(zip(wide["sequence"], wide["frame"], strict=True)):
        for key in ("images", "depth"):
            np.testing.assert_array_equal(wide[key][index], video(key, sequence)[[t - 2, t, t + 2]])
        # Target-to-source transforms compose: (t -> t-2) = (t-1 -> t-2) @ (t -> t-1).
        step = data["poses"][(data["sequence"] == sequence)]  # windows of targets 1..4
        to_previous = step[t - 2, 0] @ step[t - 1, 0]
        to_next = step[t, 1] @ step[t - 1, 1]
        np.testing.assert_allclose(wide["poses"][index, 0], to_previous, atol=1e-5)
        np.testing.assert_allclose(wide["poses"][index, 1], to_next, atol=1e-5)


def test_several_frame_steps_come_from_one_rendering_in_turn(data):
    both = kt.datasets.synthetic_driving(
        2, 6, image_size=(HEIGHT, WIDTH), seed=3, frame_step=(2, 1)
    )
    wide = kt.datasets.synthetic_driving(2, 6, image_size=(HEIGHT, WIDTH), seed=3, frame_step=2)
    np.testing.assert_array_equal(both["frame_step"], [2] * 4 + [1] * 8)
    np.testing.assert_array_equal(data["frame_step"], [1] * 8)
    for key in data:  # the step-2 windows first, then the step-1 ones: the same videos
        np.testing.assert_array_equal(both[key][:4], wide[key])
        np.testing.assert_array_equal(both[key][4:], data[key])


def test_sky_is_invalid_depth_and_varies_only_with_direction():
    data = kt.datasets.synthetic_driving(1, 3, image_size=(32, 96), seed=2)
    depth = data["depth"][0, 1, ..., 0]
    assert np.any(depth[0] == 0.0)  # the top row sees sky somewhere down the street
    assert np.all(depth[-1] > 0.0)  # the bottom row sees the road or the kerb


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"num_sequences": 0}, ValueError, "num_sequences"),
        ({"sequence_length": 2}, ValueError, "sequence_length"),
        ({"sequence_length": 4, "frame_step": 2}, ValueError, "sequence_length"),
        ({"frame_step": 0}, ValueError, "frame_step"),
        ({"frame_step": (1, 1)}, ValueError, "frame_step"),
        ({"frame_step": ()}, ValueError, "frame_step"),
        ({"frame_step": (1, 0)}, ValueError, "frame_step"),
        ({"sequence_length": 4, "frame_step": (1, 2)}, ValueError, "sequence_length"),
        ({"frame_step": 1.0}, TypeError, "frame_step"),
        ({"frame_step": (1, [2])}, TypeError, "frame_step"),
        ({"image_size": (4, 32)}, ValueError, r"image_size\[0\]"),
        ({"image_size": (16, 32, 3)}, ValueError, "image_size"),
        ({"image_size": 16}, TypeError, "image_size"),
        ({"seed": 1.5}, TypeError, "seed"),
        ({"as_dataset": "yes"}, TypeError, "as_dataset"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        kt.datasets.synthetic_driving(**kwargs)
