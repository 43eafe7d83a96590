"""Inverse warping of a source frame into the target view, with the principled mask."""

from keras import ops

from kerastricks._checks import check_batch_sizes, check_rank, fail
from kerastricks.geometry._tensors import (
    as_float,
    batched_intrinsics,
    depth_to_4d,
    geometry_dtype,
    pixel_grid,
)
from kerastricks.geometry.bilinear_sample import sample_at
from kerastricks.geometry.camera_projection import MIN_PROJECTED_DEPTH
from kerastricks.geometry.pose import pose_vec_to_matrix

__all__ = ["projective_inverse_warp"]


def projective_inverse_warp(source_image, target_depth, pose, intrinsics):
    """Reconstructs the target frame from the source frame, given depth and ego-motion.

    For every target pixel `p = [u, v, 1]^T` with depth `D`, back-projects
    `Q = D K^-1 p`, moves it into the source camera `Q' = R Q + t`, projects it,
    `[u', v', 1]^T ~ K Q'`, and samples the source image there bilinearly
    (`bilinear_sample`). Returns the warped image and the principled mask, which is 1
    where the reconstruction is valid:

    - the target depth is finite and positive,
    - the projected depth `Q'_z` is positive (the point is in front of the source
      camera; the original vid2depth code did not check this),
    - `(u', v')` lies inside the source image, `[-0.5, W - 0.5] x [-0.5, H - 0.5]`
      (the whole area of its pixels; the half-pixel border strip samples the edge
      pixels).

    and 0 elsewhere, so `mask * |target - warped|` ignores pixels the source frame
    cannot explain.

    Zero depth is *rejected*, not clamped: a target pixel whose depth is 0, negative,
    `inf` or `NaN` gets mask 0, and its depth is replaced by 1 before any arithmetic, so
    the warped value stays finite and no gradient reaches that depth. Projected depths
    are clamped to at least 1e-6 only inside the division, which keeps the coordinates
    of masked points finite.

    Reference:
        Mahjourian, Wicke & Angelova, "Unsupervised Learning of Depth and Ego-Motion
        from Monocular Video Using 3D Geometric Constraints" (CVPR 2018), Sec. 3.1-3.2;
        Zhou et al., "Unsupervised Learning of Depth and Ego-Motion from Video"
        (CVPR 2017).

    Convention:
        `pose` maps points from the target camera frame into the source camera frame
        (`Q' = R Q + t`). So for a pure translation `tx` and constant depth `D`, target
        pixel `u` samples the source at `u + fx * tx / D`. A `[B, 6]` pose is
        `(tx, ty, tz, rx, ry, rz)` with `R = Rx(rx) @ Ry(ry) @ Rz(rz)`
        (`pose_vec_to_matrix`). Pixels are (column, row) with centres at integers;
        camera x right, y down, z forward; depth is z (see `pixel_to_camera`).

    Args:
        source_image: `[B, H, W, C]` frame to sample from, any float dtype.
        target_depth: `[B, H, W]` or `[B, H, W, 1]` depth of the target frame.
        pose: `[B, 6]` pose vectors or `[B, 4, 4]` matrices, target to source.
        intrinsics: `[B, 3, 3]` or `[3, 3]` camera matrix (the same camera for both
            frames, at this resolution).

    Returns:
        `(warped, mask)`: `[B, H, W, C]` in the dtype of `source_image`, and the
        `[B, H, W, 1]` mask of 0s and 1s in the same dtype. Coordinates are computed
        in float32 (float64 for float64 inputs) whatever the image dtype.

    Raises:
        ValueError: wrong ranks or shapes, target depth and source image of different
            height and width, or different (static) batch sizes of the image, depth and
            pose.

    Example:

    >>> import numpy as np
    >>> import kerastricks as kt
    >>> image = np.random.default_rng(0).random((1, 4, 6, 3)).astype("float32")
    >>> depth = np.full((1, 4, 6, 1), 10.0, "float32")
    >>> K = np.array([[20.0, 0, 2.5], [0, 20.0, 1.5], [0, 0, 1]], "float32")
    >>> pose = np.array([[0.5, 0, 0, 0, 0, 0]], "float32")  # shifts by 20 * 0.5 / 10 = 1
    >>> warped, mask = kt.geometry.projective_inverse_warp(image, depth, pose, K)
    >>> np.allclose(np.asarray(warped)[0, :, :5], image[0, :, 1:])
    True
    >>> np.asarray(mask)[0, 0, :, 0]
    array([1., 1., 1., 1., 1., 0.], dtype=float32)
    """
    source_image = ops.convert_to_tensor(source_image)
    target_depth = depth_to_4d(ops.convert_to_tensor(target_depth))
    pose = ops.convert_to_tensor(pose)
    check_rank("source_image", source_image.shape, 4, "[B, H, W, C]")
    check_rank("pose", pose.shape, (2, 3), "[B, 6] or [B, 4, 4]")
    check_batch_sizes(
        source_image=source_image.shape, target_depth=target_depth.shape, pose=pose.shape
    )
    _, height, width, _ = source_image.shape
    if None in (height, width):
        fail("`source_image` needs static H and W.", "source_image.shape", source_image.shape)
    if tuple(target_depth.shape[1:3]) != (height, width):
        fail(
            f"`target_depth` must have the height and width of `source_image` ({height}, {width}).",
            "target_depth.shape",
            tuple(target_depth.shape),
        )
    dtype = geometry_dtype(source_image, target_depth, pose)
    if len(pose.shape) == 2:
        if pose.shape[-1] != 6:
            fail("A pose vector must have shape [B, 6].", "pose.shape", tuple(pose.shape))
        matrix = pose_vec_to_matrix(as_float(pose, dtype))
    else:
        if tuple(pose.shape[-2:]) not in ((4, 4), (3, 4)):
            fail("A pose matrix must have shape [B, 4, 4].", "pose.shape", tuple(pose.shape))
        matrix = as_float(pose, dtype)
    batch = ops.shape(source_image)[0]
    k = batched_intrinsics(intrinsics, batch, dtype)

    depth = ops.reshape(as_float(target_depth, dtype), (-1, 1, height * width))
    valid_depth = ops.logical_and(depth > 0, ops.isfinite(depth))
    depth = ops.where(valid_depth, depth, ops.ones_like(depth))

    # Q' = R D K^-1 p + t, projected with K: K Q' = D (K R K^-1) p + K t. Each row apart:
    # slicing a stacked [B, 3, H*W] tensor would cost a full-size copy in the backward pass.
    rotation = ops.matmul(ops.matmul(k, matrix[:, :3, :3]), ops.inv(k))
    translation = ops.matmul(k, matrix[:, :3, 3:])  # [B, 3, 1]
    grid = pixel_grid(height, width, dtype)
    x, y, z = (
        depth * ops.matmul(rotation[:, i : i + 1], grid) + translation[:, i : i + 1]
        for i in range(3)
    )  # each [B, 1, H*W]
    safe_z = ops.maximum(z, MIN_PROJECTED_DEPTH)
    x, y = x / safe_z, y / safe_z

    inside = (x >= -0.5) & (x <= width - 0.5) & (y >= -0.5) & (y <= height - 0.5)
    mask = valid_depth & (z > 0) & inside
    mask = ops.reshape(ops.cast(mask, source_image.dtype), (-1, height, width, 1))
    warped = sample_at(source_image, x, y, (batch, height, width))
    return warped, mask
