import numpy as np
import pytest
import tensorflow as tf
from scipy.spatial import cKDTree
from scipy.spatial.transform import Rotation

import kerastricks as kt

# Graph mode: an eager ICP runs each of its few hundred small ops one by one.
icp = tf.function(kt.geometry.icp)


def _rigid(seed, angle=0.15, shift=0.1):
    rng = np.random.default_rng(seed)
    matrix = np.eye(4)
    matrix[:3, :3] = Rotation.from_rotvec(rng.uniform(-angle, angle, 3)).as_matrix()
    matrix[:3, 3] = rng.uniform(-shift, shift, 3)
    return matrix


def _cloud(seed, count):
    return np.random.default_rng(seed).uniform(-1.0, 1.0, (count, 3))


def _move(points, matrix):
    return points @ matrix[:3, :3].T + matrix[:3, 3]


def test_recovers_a_random_rigid_transform():
    sources, targets, truths = [], [], []
    for seed in range(3):
        source = _cloud(seed, 400)
        truth = _rigid(seed + 10)
        # The target is the moved source, in shuffled order: the truth is the expected answer.
        target = np.random.default_rng(seed).permutation(_move(source, truth))
        sources.append(source), targets.append(target), truths.append(truth)
    transform, residuals = icp(np.float32(sources), np.float32(targets), iterations=30)
    np.testing.assert_allclose(transform, np.stack(truths), atol=1e-3)
    assert residuals.shape == (3, 400)
    np.testing.assert_allclose(residuals, 0.0, atol=1e-3)


def test_residuals_are_nearest_neighbour_distances_after_alignment():
    source, target = _cloud(0, 300), _cloud(1, 250)  # unrelated clouds of different sizes
    transform, residuals = icp(np.float32([source]), np.float32([target]), 5)
    moved = _move(source, np.asarray(transform, "float64")[0])
    # Expected: distances from scipy's k-d tree for the returned transform.
    expected, _ = cKDTree(target).query(moved)
    np.testing.assert_allclose(residuals[0], expected, atol=1e-4)


def test_float64_converges_to_machine_precision_with_a_proper_rotation():
    # Once the pairs are right, the Kabsch step is exact: float64 gets the truth to 1e-9,
    # and the rotation is proper (det = +1, no mirror image).
    source = _cloud(2, 50)
    truth = _rigid(3, angle=0.05, shift=0.05)
    target = _move(source, truth)
    transform, _ = icp(np.float64([source]), np.float64([target]), iterations=10)
    np.testing.assert_allclose(transform[0], truth, atol=1e-9)
    assert np.linalg.det(np.asarray(transform)[0, :3, :3]) == pytest.approx(1.0)


def test_initial_transform_reaches_a_large_motion():
    source = _cloud(4, 300)
    truth = np.eye(4)
    truth[:3, :3] = Rotation.from_euler("xyz", [0.0, 1.2, 0.0]).as_matrix()
    truth[:3, 3] = [2.0, 0.0, 1.0]
    target = _move(source, truth)
    start = truth.copy()
    start[:3, 3] += 0.05
    transform, _ = icp(
        np.float32([source]), np.float32([target]), 20, initial_transform=np.float32([start])
    )
    np.testing.assert_allclose(transform[0], truth, atol=1e-3)


def test_max_distance_ignores_outliers_and_num_samples_still_fits():
    source = _cloud(5, 400)
    truth = _rigid(6, angle=0.05, shift=0.05)
    target = _move(source, truth)
    # 40 source points without a partner, far away: without max_distance they drag the fit.
    outliers = np.random.default_rng(7).uniform(5.0, 6.0, (40, 3))
    source_with_outliers = np.float32([np.concatenate([source, outliers])])
    robust, _ = icp(source_with_outliers, np.float32([target]), 30, max_distance=0.5)
    naive, _ = icp(source_with_outliers, np.float32([target]), 30)
    np.testing.assert_allclose(robust[0], truth, atol=1e-3)
    assert np.abs(np.asarray(naive)[0] - truth).max() > 0.1
    sampled, residuals = icp(np.float32([source]), np.float32([target]), 30, 100)
    np.testing.assert_allclose(sampled[0], truth, atol=1e-3)
    assert residuals.shape == (1, 400)


def test_compiles_with_xla_and_has_no_gradient():
    source = tf.constant(np.float32([_cloud(8, 200)]))
    target = tf.constant(np.float32([_move(_cloud(8, 200), _rigid(9))]))
    compiled = tf.function(lambda s, t: icp(s, t, 10), jit_compile=True)
    np.testing.assert_allclose(compiled(source, target)[0], icp(source, target, 10)[0], atol=1e-5)
    with tf.GradientTape() as tape:
        tape.watch(source)
        transform, residuals = kt.geometry.icp(source, target, 1)
        total = tf.reduce_sum(transform) + tf.reduce_sum(residuals)
    assert tape.gradient(total, source) is None


def test_degenerate_inputs_stay_finite():
    # Every point at one place: the fit is undetermined, but no NaN comes out.
    points = np.zeros((1, 20, 3), "float32")
    transform, residuals = icp(points, points + 1.0, 3, max_distance=0.1)
    assert np.all(np.isfinite(transform)) and np.all(np.isfinite(residuals))


def test_bad_arguments_raise():
    cloud = np.zeros((1, 10, 3), "float32")
    with pytest.raises(ValueError, match="`source_points` must have shape"):
        icp(np.zeros((1, 10, 2)), cloud)
    with pytest.raises(ValueError, match="`iterations` must be >= 0"):
        icp(cloud, cloud, iterations=-1)
    with pytest.raises(TypeError, match="`num_samples` must be an integer"):
        icp(cloud, cloud, num_samples=2.5)
    with pytest.raises(ValueError, match="`max_distance` must be > 0"):
        icp(cloud, cloud, max_distance=0.0)


def _kabsch_icp(source, target, iterations):
    """Reference ICP: SciPy's k-d tree for the pairs, NumPy's SVD for the Kabsch fit."""
    tree, transform = cKDTree(target), np.eye(4)
    for _ in range(iterations):
        _, index = tree.query(_move(source, transform))
        partners = target[index]
        source_mean, target_mean = source.mean(0), partners.mean(0)
        u, _, vt = np.linalg.svd((source - source_mean).T @ (partners - target_mean))
        mirror = np.diag([1.0, 1.0, np.sign(np.linalg.det(vt.T @ u.T))])
        transform = np.eye(4)
        transform[:3, :3] = vt.T @ mirror @ u.T
        transform[:3, 3] = target_mean - transform[:3, :3] @ source_mean
    return transform


def _box_cloud(seed, count):
    # The benchmark's cloud: a 8 x 2 x 20 box of uniform points in front of a camera.
    points = np.random.default_rng(seed).uniform(-1.0, 1.0, (count, 3))
    return points * [4.0, 1.0, 10.0] + [0.0, 0.0, 15.0]


def _surface_cloud(seed, count):
    # A depth map's cloud: a tilted, gently curved surface seen by a pinhole camera.
    rng, width = np.random.default_rng(seed), 128
    height = count // width
    u, v = np.meshgrid(np.arange(width) - width / 2, np.arange(height) - height / 2)
    depth = 10.0 + 0.05 * v + 0.5 * np.sin(u / 15.0) + rng.normal(0.0, 0.01, u.shape)
    return np.stack([u * depth / 100.0, v * depth / 100.0, depth], -1).reshape(-1, 3)


@pytest.mark.parametrize("cloud", ["box", "surface"])
def test_grid_pairs_are_real_points_and_nearly_always_the_nearest(cloud):
    make = _box_cloud if cloud == "box" else _surface_cloud
    target = make(0, 8192)
    # Queries: the target shaken by about one point spacing, and a few far away.
    rng = np.random.default_rng(1)
    query = target + rng.normal(0.0, 0.05 if cloud == "box" else 0.03, target.shape)
    query[:20] += 50.0
    _, residuals = icp(np.float32([query]), np.float32([target]), 0, neighbors="grid")
    expected, _ = cKDTree(target).query(query)
    residuals = np.asarray(residuals[0], "float64")
    # A grid pair is a real target point, so never nearer than the true nearest one
    # (1e-4: float32 distances of points ~20 from the origin).
    assert np.all(residuals >= expected - 1e-4)
    # Exact unless the true neighbour is beyond half a cell (one mean spacing; the shake
    # keeps most within it) or a cell is overfull: measured 100% exact on the near
    # queries of both clouds; the 20 far ones get a near anchor point instead.
    exact = np.abs(residuals - expected) <= 1e-4
    assert exact[20:].mean() > 0.99


def test_brute_force_is_exact():
    source, target = _cloud(0, 300), _cloud(1, 250)
    _, residuals = icp(np.float32([source]), np.float32([target]), 0, neighbors="brute_force")
    expected, _ = cKDTree(target).query(source)  # Expected: SciPy's k-d tree.
    np.testing.assert_allclose(residuals[0], expected, atol=1e-5)


def test_grid_icp_recovers_the_transform_of_kd_tree_icp_at_8k_points():
    source = _box_cloud(2, 8192)
    truth = _rigid(3, angle=0.03, shift=0.1)
    target = np.random.default_rng(4).permutation(_move(source, truth))
    # "auto" takes the grid at 8192 target points.
    transform, residuals = icp(np.float32([source]), np.float32([target]), 15)
    expected = _kabsch_icp(source, target, 15)
    # Both reach the truth; float32 on coordinates up to 25 gives ~1e-5 per entry.
    np.testing.assert_allclose(transform[0], expected, atol=1e-3)
    np.testing.assert_allclose(transform[0], truth, atol=1e-3)
    np.testing.assert_allclose(residuals, 0.0, atol=1e-3)


def test_grid_handles_a_batch_of_clouds_at_different_scales_and_compiles_with_xla():
    # Two clouds 100x apart in size: each gets its own cell size and buckets.
    sources = np.stack([_box_cloud(5, 4096), 0.01 * _box_cloud(6, 4096)])
    truths = [_rigid(7, angle=0.02, shift=0.05), _rigid(8, angle=0.02, shift=0.0005)]
    targets = np.stack([_move(s, t) for s, t in zip(sources, truths)])
    compiled = tf.function(
        lambda s, t: kt.geometry.icp(s, t, 15, neighbors="grid"), jit_compile=True
    )
    transform, _ = compiled(np.float32(sources), np.float32(targets))
    for b in range(2):
        expected = _kabsch_icp(sources[b], targets[b], 15)
        np.testing.assert_allclose(transform[b], expected, atol=1e-3)
    graph, _ = icp(np.float32(sources), np.float32(targets), 15, neighbors="grid")
    np.testing.assert_allclose(transform, graph, atol=1e-5)


def test_grid_on_degenerate_clouds_stays_finite():
    # All points at one place: spacing 0, one overfull cell. No NaN, and the fit is the
    # only one there is: the shift (1, 1, 1) (rotation undetermined, kept at identity).
    points = np.zeros((1, 5000, 3), "float32")
    transform, residuals = icp(points, points + 1.0, 3, neighbors="grid")
    expected = np.eye(4)
    expected[:3, 3] = 1.0
    np.testing.assert_allclose(transform[0], expected, atol=1e-5)
    np.testing.assert_allclose(residuals, 0.0, atol=1e-5)


def test_unknown_neighbors_raises():
    cloud = np.zeros((1, 10, 3), "float32")
    with pytest.raises(ValueError, match="`neighbors` must be one of"):
        icp(cloud, cloud, neighbors="kd_tree")
    unknown_size = tf.function(
        lambda s, t: kt.geometry.icp(s, t, 1, neighbors="grid"),
        input_signature=[tf.TensorSpec([1, None, 3], "float32")] * 2,
    )
    with pytest.raises(ValueError, match="needs a static number of target points"):
        unknown_size(cloud, cloud)
