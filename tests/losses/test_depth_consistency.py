import numpy as np
import pytest
import tensorflow as tf

import kerastricks as kt


def test_difference_and_loss_match_the_numpy_formulas():
    rng = np.random.default_rng(0)
    projected = rng.uniform(0.5, 20.0, (3, 4, 5, 1)).astype("float32")
    sampled = rng.uniform(0.5, 20.0, (3, 4, 5, 1)).astype("float32")
    mask = (rng.random((3, 4, 5, 1)) > 0.3).astype("float32")
    mask[2] = 0.0  # nothing in view: 0, not NaN
    difference = np.abs(projected - sampled) / (projected + sampled)  # Bian et al., Eq. 5
    np.testing.assert_allclose(
        kt.losses.depth_difference(projected, sampled), difference, rtol=1e-6
    )
    expected = [
        (difference[b] * mask[b]).sum() / mask[b].sum() if mask[b].any() else 0.0 for b in range(3)
    ]
    got = kt.losses.depth_consistency(projected, sampled, mask)
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    unmasked = kt.losses.depth_consistency(projected[..., 0], sampled[..., 0])  # [B, H, W]
    np.testing.assert_allclose(unmasked, difference.mean(axis=(1, 2, 3)), rtol=1e-6)


def test_zero_depths_give_zero_and_finite_gradients():
    projected = tf.constant([[0.0, 2.0]])
    sampled = tf.constant([[0.0, 6.0]])
    with tf.GradientTape() as tape:
        tape.watch([projected, sampled])
        difference = kt.losses.depth_difference(projected, sampled)
    np.testing.assert_allclose(difference, [[0.0, 0.5]])
    for gradient in tape.gradient(difference, [projected, sampled]):
        assert np.all(np.isfinite(gradient))


def test_a_depth_map_moved_with_its_camera_is_consistent():
    # A wall facing the camera at 10 m; the source camera 2 m farther from it. Its own
    # depth map is 12 m everywhere: consistent, loss 0. A source depth of 10 m (the
    # target's map reused) is off by 2 in 22: |12 - 10| / (12 + 10) = 1/11 on every pixel.
    height, width = 6, 8
    k = np.array([[6.0, 0, 3.5], [0, 6.0, 2.5], [0, 0, 1]], "float32")
    target_depth = np.full((1, height, width, 1), 10.0, "float32")
    pose = np.array([[0.0, 0.0, 2.0, 0.0, 0.0, 0.0]], "float32")  # Q' = Q + t
    points = kt.geometry.pixel_to_camera(target_depth, k)
    projected = np.asarray(points)[..., 2:] + pose[0, 2]  # no rotation: z' = z + t_z
    for source_depth, expected in ((12.0, 0.0), (10.0, 1.0 / 11.0)):
        source = np.full((1, height, width, 1), source_depth, "float32")
        sampled, mask = kt.geometry.projective_inverse_warp(source, target_depth, pose, k)
        assert np.asarray(mask).all()  # moving back, every point stays in view
        loss = kt.losses.depth_consistency(projected, sampled, mask)
        np.testing.assert_allclose(loss, [expected], rtol=1e-6, atol=1e-7)


def test_shapes_must_agree():
    with pytest.raises(ValueError, match="sampled_depth"):
        kt.losses.depth_difference(np.ones((1, 2, 2)), np.ones((1, 2, 3)))
