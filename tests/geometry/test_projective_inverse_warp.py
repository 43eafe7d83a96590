import numpy as np
import pytest
import tensorflow as tf

import kerastricks as kt
from tests.geometry import numpy_warp

K = np.array([[12.0, 0.0, 7.5], [0.0, 11.0, 4.5], [0.0, 0.0, 1.0]], "float32")


def _random_scene(seed, batch=2, height=10, width=16, channels=3):
    rng = np.random.default_rng(seed)
    image = rng.random((batch, height, width, channels)).astype("float32")
    depth = rng.uniform(2.0, 8.0, (batch, height, width)).astype("float32")
    pose = rng.normal(0.0, [0.3, 0.2, 0.3, 0.05, 0.05, 0.05], (batch, 6)).astype("float32")
    return image, depth, pose


def test_matches_numpy_reference_on_random_scenes():
    image, depth, pose = _random_scene(0)
    warped, mask = kt.geometry.projective_inverse_warp(image, depth, pose, K)
    for b in range(len(image)):
        # Expected: the float64 pixel-by-pixel NumPy warp of tests/geometry/numpy_warp.py.
        expected, expected_mask = numpy_warp.warp(image[b], depth[b], pose[b], K)
        np.testing.assert_array_equal(np.asarray(mask)[b, ..., 0], expected_mask)
        np.testing.assert_allclose(np.asarray(warped)[b], expected, atol=2e-4)
    assert 0.2 < float(np.mean(mask)) < 1.0  # the scene really exercises both cases


def test_pose_matrix_equals_pose_vector_and_batched_intrinsics_equal_shared():
    image, depth, pose = _random_scene(1)
    matrix = np.stack([numpy_warp.pose_matrix(p) for p in pose]).astype("float32")
    intrinsics = np.tile(K[None], (2, 1, 1))
    a, mask_a = kt.geometry.projective_inverse_warp(image, depth, pose, K)
    b, mask_b = kt.geometry.projective_inverse_warp(image, depth[..., None], matrix, intrinsics)
    np.testing.assert_allclose(a, b, atol=1e-4)
    # Pixels whose projection sits within float error of the image border may differ.
    assert np.mean(np.asarray(mask_a) != np.asarray(mask_b)) < 0.01


def test_identity_pose_returns_the_image_with_a_full_mask():
    image, depth, _ = _random_scene(2, height=9, width=13)
    warped, mask = kt.geometry.projective_inverse_warp(image, depth, np.zeros((2, 6)), K)
    np.testing.assert_allclose(warped, image, atol=1e-5)
    np.testing.assert_array_equal(mask, np.ones((2, 9, 13, 1)))


@pytest.mark.parametrize("tx, depth_value", [(0.5, 3.0), (-1.0, 6.0), (0.25, 1.5)])
def test_pure_translation_shifts_by_fx_tx_over_depth(tx, depth_value):
    # Expected shift from the convention: u samples the source at u + fx * tx / D,
    # chosen here to be a whole number of pixels (12 * 0.5 / 3 = 2, 12 * -1 / 6 = -2, 2).
    shift = int(round(K[0, 0] * tx / depth_value))
    image, _, _ = _random_scene(3, batch=1)
    depth = np.full((1, 10, 16), depth_value, "float32")
    pose = np.array([[tx, 0, 0, 0, 0, 0]], "float32")
    warped, mask = kt.geometry.projective_inverse_warp(image, depth, pose, K)
    warped, mask = np.asarray(warped)[0], np.asarray(mask)[0, ..., 0]
    columns = np.arange(16)
    inside = (columns + shift >= 0) & (columns + shift <= 15)
    np.testing.assert_allclose(warped[:, inside], image[0][:, columns[inside] + shift], atol=1e-5)
    np.testing.assert_array_equal(mask, np.broadcast_to(inside, (10, 16)).astype("float32"))


def test_out_of_view_and_behind_camera_points_are_masked():
    image, _, _ = _random_scene(4, batch=3)
    depth = np.full((3, 10, 16), 4.0, "float32")
    pose = np.array(
        [
            [100.0, 0, 0, 0, 0, 0],  # far to the side: every projection leaves the image
            [0, 0, -10.0, 0, 0, 0],  # moves every point behind the source camera
            [0, 0, 0, 0, np.pi, 0],  # half a turn about y: behind the camera too
        ],
        "float32",
    )
    warped, mask = kt.geometry.projective_inverse_warp(image, depth, pose, K)
    np.testing.assert_array_equal(mask, np.zeros((3, 10, 16, 1)))
    assert np.all(np.isfinite(warped))


def test_zero_negative_and_nan_depth_are_rejected_with_zero_gradient():
    image, depth, pose = _random_scene(5, batch=1)
    pose = np.zeros_like(pose)
    depth[0, 0, :4] = [0.0, -1.0, np.nan, np.inf]
    image_t, depth_t, pose_t = (tf.constant(a) for a in (image, depth, pose))
    with tf.GradientTape() as tape:
        tape.watch([image_t, depth_t, pose_t])
        warped, mask = kt.geometry.projective_inverse_warp(image_t, depth_t, pose_t, K)
        loss = tf.reduce_sum(warped * mask) + tf.reduce_sum(warped)
    gradients = tape.gradient(loss, [image_t, depth_t, pose_t])
    np.testing.assert_array_equal(np.asarray(mask)[0, 0, :5, 0], [0, 0, 0, 0, 1])
    assert np.all(np.isfinite(warped))
    for gradient in gradients:
        assert np.all(np.isfinite(gradient))
    np.testing.assert_array_equal(np.asarray(gradients[1])[0, 0, :4], 0.0)


def test_gradients_are_finite_at_the_image_edges_and_in_float16():
    image, depth, pose = _random_scene(6)
    pose[:, 0] = 1.5  # many points land on or beyond the border
    tensors = [tf.constant(image, "float16"), tf.constant(depth), tf.constant(pose)]
    with tf.GradientTape() as tape:
        tape.watch(tensors)
        warped, mask = kt.geometry.projective_inverse_warp(*tensors, K)
        loss = tf.reduce_sum(tf.cast(warped * mask, "float32"))
    assert warped.dtype == tf.float16 and mask.dtype == tf.float16
    for gradient in tape.gradient(loss, tensors):
        assert np.all(np.isfinite(np.asarray(gradient, "float32")))


def test_compiles_with_xla_and_dynamic_batch():
    image, depth, pose = _random_scene(7)
    spec = [
        tf.TensorSpec((None, 10, 16, 3)),
        tf.TensorSpec((None, 10, 16)),
        tf.TensorSpec((None, 6)),
    ]
    function = tf.function(
        lambda i, d, p: kt.geometry.projective_inverse_warp(i, d, p, K),
        jit_compile=True,
        input_signature=spec,
    )
    warped, mask = function(image, depth, pose)
    expected, expected_mask = kt.geometry.projective_inverse_warp(image, depth, pose, K)
    np.testing.assert_allclose(warped, expected, atol=1e-5)
    assert np.mean(np.asarray(mask) != np.asarray(expected_mask)) < 0.01


def test_bad_shapes_raise():
    image, depth, pose = _random_scene(8)
    with pytest.raises(ValueError, match="pose vector must have shape"):
        kt.geometry.projective_inverse_warp(image, depth, pose[:, :5], K)
    with pytest.raises(ValueError, match="height and width of `source_image`"):
        kt.geometry.projective_inverse_warp(image, depth[:, :5], pose, K)
    with pytest.raises(ValueError, match=r"`intrinsics` must end with shape \(3, 3\)"):
        kt.geometry.projective_inverse_warp(image, depth, pose, np.eye(4))
    with pytest.raises(ValueError, match="`source_image` must have rank 4"):
        kt.geometry.projective_inverse_warp(image[0], depth, pose, K)


def test_different_batch_sizes_raise_instead_of_broadcasting():
    image, depth, pose = _random_scene(9)
    assert image.shape[0] == 2
    with pytest.raises(
        ValueError,
        match=r"`source_image`, `target_depth`, `pose` must have the same batch size.*"
        r"Received: batch sizes=\{'source_image': 2, 'target_depth': 1, 'pose': 2\}",
    ):
        kt.geometry.projective_inverse_warp(image, depth[:1], pose, K)
    with pytest.raises(ValueError, match="'pose': 1"):
        kt.geometry.projective_inverse_warp(image, depth, pose[:1], K)
