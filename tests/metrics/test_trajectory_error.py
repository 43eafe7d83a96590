import numpy as np
import pytest
from scipy.spatial.transform import Rotation

import kerastricks as kt

pytestmark = pytest.mark.backend_independent


def compute_ate(gtruth_xyz, pred_xyz_o):
    """`compute_ate` of SfMLearner's `kitti_eval/pose_evaluation_utils.py`, verbatim."""
    offset = gtruth_xyz[0] - pred_xyz_o[0]
    pred_xyz = pred_xyz_o + offset[None, :]
    scale = np.sum(gtruth_xyz * pred_xyz) / np.sum(pred_xyz**2)
    alignment_error = pred_xyz * scale - gtruth_xyz
    return np.sqrt(np.sum(alignment_error**2)) / gtruth_xyz.shape[0]


def test_matches_sfmlearner_compute_ate():
    rng = np.random.default_rng(0)
    true = rng.normal(size=(6, 3, 3))
    pred = true * rng.uniform(0.2, 3.0, (6, 1, 1)) + 0.1 * rng.normal(size=(6, 3, 3))
    pred += rng.normal(size=(6, 1, 3))  # first positions differ: aligned by the offset
    expected = [compute_ate(t, p) for t, p in zip(true, pred, strict=True)]
    np.testing.assert_allclose(kt.metrics.trajectory_error(true, pred), expected, rtol=1e-5)


def test_zero_for_a_scaled_trajectory_and_finite_for_a_still_prediction():
    true = np.array([[[0, 0, 0], [0.1, 0, 1.0], [0.3, 0, 2.1]]], np.float32)
    np.testing.assert_allclose(kt.metrics.trajectory_error(true, 7.0 * true), [0.0], atol=1e-6)
    # A prediction of no motion: scale 0, the error is the true path's norm / N.
    still = kt.metrics.trajectory_error(true, np.zeros_like(true))
    np.testing.assert_allclose(still, [np.linalg.norm(true) / 3], rtol=1e-6)


def camera_to_world(rng):
    matrix = np.eye(4)
    matrix[:3, :3] = Rotation.from_rotvec(rng.normal(scale=0.3, size=3)).as_matrix()
    matrix[:3, 3] = rng.normal(size=3)
    return matrix


@pytest.mark.parametrize("target_index", [0, 1, 2])
def test_snippet_positions_from_camera_to_world_poses(target_index):
    rng = np.random.default_rng(target_index)
    batch = []
    expected = []
    for _ in range(3):
        cameras = [camera_to_world(rng) for _ in range(3)]
        target = cameras[target_index]
        sources = [c for i, c in enumerate(cameras) if i != target_index]
        # Target-to-source transform: inv(C_source) @ C_target.
        batch.append([np.linalg.inv(s) @ target for s in sources])
        # Camera centres in the first camera's frame: inv(C_0) @ [centre, 1].
        first = np.linalg.inv(cameras[0])
        expected.append([(first @ c[:, 3])[:3] for c in cameras])
    result = kt.metrics.snippet_positions(np.array(batch), target_index=target_index)
    np.testing.assert_allclose(result, np.array(expected), atol=1e-5)


def test_snippet_positions_of_ground_truth_windows_match_the_drive():
    data = kt.datasets.synthetic_driving(1, 4, image_size=(8, 16), seed=0)
    positions = np.asarray(kt.metrics.snippet_positions(data["poses"], target_index=1))
    # Consecutive frames are 0.6 to 1.4 m apart (times 1 +- 15 % speed noise), forward.
    steps = np.linalg.norm(np.diff(positions, axis=1), axis=-1)
    assert np.all((steps > 0.45) & (steps < 1.65))
    assert np.all(positions[:, 2, 2] > positions[:, 1, 2])


@pytest.mark.parametrize(
    "true_shape, pred_shape", [((2, 3, 3), (2, 3, 2)), ((2, 3, 3), (2, 4, 3)), ((3, 3), (3, 3))]
)
def test_trajectory_error_rejects_bad_shapes(true_shape, pred_shape):
    with pytest.raises(ValueError, match=r"\[B, N, 3\].*Received: shapes"):
        kt.metrics.trajectory_error(np.zeros(true_shape), np.zeros(pred_shape))


def test_snippet_positions_rejects_bad_input():
    with pytest.raises(ValueError, match=r"\[B, S, 4, 4\].*Received: poses.shape"):
        kt.metrics.snippet_positions(np.zeros((2, 4, 4)), target_index=0)
    with pytest.raises(ValueError, match="target_index"):
        kt.metrics.snippet_positions(np.zeros((1, 2, 4, 4)), target_index=3)
