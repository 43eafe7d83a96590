import numpy as np
import pytest
import tensorflow as tf
from scipy.spatial import cKDTree
from scipy.spatial.transform import Rotation

import kerastricks as kt
from tests.helpers import run_loss_test


def _cloud(seed, count=300):
    return np.random.default_rng(seed).uniform(-1.0, 1.0, (count, 3))


def test_aligned_clouds_give_zero_loss_and_zero_gradient():
    cloud = tf.constant(np.stack([_cloud(0), _cloud(1)]), "float32")
    with tf.GradientTape() as tape:
        tape.watch(cloud)
        loss = kt.losses.icp_alignment(cloud, cloud)
    np.testing.assert_allclose(loss, [0.0, 0.0], atol=1e-5)
    assert np.abs(np.asarray(tape.gradient(loss, cloud))).max() < 1e-2


def test_value_is_the_transform_and_residual_l1_of_icp():
    source = _cloud(2)
    target = _cloud(3)  # unrelated clouds: a non-trivial correction and residuals
    loss = float(kt.losses.icp_alignment(np.float64([target]), np.float64([source]), 5)[0])
    transform, _ = kt.geometry.icp(np.float64([source]), np.float64([target]), 5)
    transform = np.asarray(transform)[0]
    # Expected: |T' - I|_1 over the top 3x4 block plus the mean L1 residual to the nearest
    # target point (scipy's k-d tree) after applying T'.
    moved = source @ transform[:3, :3].T + transform[:3, 3]
    _, index = cKDTree(target).query(moved)
    expected = np.abs(transform[:3] - np.eye(4)[:3]).sum()
    expected += np.abs(moved - target[index]).sum(axis=1).mean()
    assert loss == pytest.approx(expected, rel=1e-6)


def test_gradient_steps_on_a_translation_reduce_misalignment():
    target = tf.constant(_cloud(4, 200)[None])
    shift = tf.Variable([0.15, -0.1, 0.05], dtype="float64")

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = kt.losses.icp_alignment(target, target + shift, iterations=5)[0]
        shift.assign_sub(0.01 * tape.gradient(loss, shift))
        return loss

    optimizer_steps = [float(step()) for _ in range(60)]
    assert np.abs(shift.numpy()).max() < 0.02
    assert optimizer_steps[-1] < 0.2 * optimizer_steps[0]


def test_organised_clouds_and_num_samples():
    rng = np.random.default_rng(5)
    depth = rng.uniform(2.0, 4.0, (1, 16, 20))
    K = np.array([[20.0, 0, 9.5], [0, 20.0, 7.5], [0, 0, 1]])
    cloud = kt.geometry.pixel_to_camera(depth, K)  # [1, 16, 20, 3]
    rotation = Rotation.from_euler("XYZ", [0.01, -0.02, 0.015]).as_matrix()
    moved = np.asarray(cloud) @ rotation.T + [0.02, 0.0, -0.01]
    full = float(kt.losses.icp_alignment(cloud, moved)[0])
    sampled = float(kt.losses.icp_alignment(cloud, moved, num_samples=100)[0])
    assert full > 0.01 and sampled > 0.01
    assert float(kt.losses.icp_alignment(cloud, cloud, num_samples=100)[0]) < 1e-5


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="`y_pred` must have shape"):
        kt.losses.icp_alignment(np.zeros((1, 5, 3)), np.zeros((1, 5, 2)))
    with pytest.raises(ValueError, match="`num_samples` must be >= 3"):
        kt.losses.ICPAlignment(num_samples=2)
    with pytest.raises(ValueError, match="`max_distance` must be > 0"):
        kt.losses.ICPAlignment(max_distance=-1.0)
    with pytest.raises(ValueError, match="`neighbors` must be one of"):
        kt.losses.ICPAlignment(neighbors="kd_tree")


def test_grid_search_gives_the_brute_force_loss_on_a_depth_map_cloud():
    # A 64 x 96 depth map's cloud, moved slightly: near pairs, where the grid is exact
    # (kt.geometry.icp docs), so both searches give the same loss to float32 rounding.
    rng = np.random.default_rng(7)
    depth = 5.0 + rng.uniform(0.0, 0.05, (1, 64, 96))
    K = np.array([[50.0, 0, 47.5], [0, 50.0, 31.5], [0, 0, 1]])
    cloud = np.asarray(kt.geometry.pixel_to_camera(depth, K), "float32")
    moved = cloud + np.float32([0.01, -0.005, 0.02])
    exact = kt.losses.icp_alignment(cloud, moved, 3, neighbors="brute_force")
    grid = kt.losses.icp_alignment(cloud, moved, 3, neighbors="grid")
    np.testing.assert_allclose(grid, exact, rtol=1e-4)


def test_loss_contract():
    rng = np.random.default_rng(6)
    y_true = rng.uniform(-1, 1, (4, 32, 3)).astype("float32")
    y_pred = (y_true + rng.normal(0, 0.02, y_true.shape)).astype("float32")
    # Expected per sample: the functional form evaluated in float64 (which the Loss must
    # reproduce in float32 and reduce correctly).
    expected = kt.losses.icp_alignment(y_true.astype("float64"), y_pred.astype("float64"), 2)
    run_loss_test(
        kt.losses.ICPAlignment,
        {"iterations": 2, "num_samples": None, "max_distance": 0.5, "neighbors": "auto"},
        y_true,
        y_pred,
        expected,
        atol=1e-4,
        rtol=1e-3,
    )
