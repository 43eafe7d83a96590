"""Geometry consistency of two depth maps of one scene (SC-SfMLearner)."""

from keras import ops

from kerastricks._checks import check_same_shape
from kerastricks.losses.masked_reconstruction import masked_reconstruction

__all__ = ["depth_consistency", "depth_difference"]


def depth_difference(projected_depth, sampled_depth):
    """Per-pixel normalised difference of two depths of the same points, in `[0, 1)`.

    `|D_projected - D_sampled| / (D_projected + D_sampled)`: `D_projected` is the depth a
    target pixel's 3-D point has in the source camera (`(R Q + t)_z`, from the target's
    depth and the pose), `D_sampled` the source frame's own depth map sampled where that
    point projects (warp the source depth as an image with `projective_inverse_warp`).
    0 where the two agree, near 1 where one is far larger than the other (an occlusion,
    a moving object, a wrong depth). SC-SfMLearner's `1 - depth_difference` is the
    *self-discovered mask* that weights its photometric loss. Depths must be positive;
    where their sum is 0 the difference is 0.

    Reference:
        Bian et al., "Unsupervised Scale-consistent Depth and Ego-motion Learning from
        Monocular Video" (NeurIPS 2019), Eq. 5 and 7.

    Args:
        projected_depth: `[B, H, W]` or `[B, H, W, 1]` depths in the source camera.
        sampled_depth: the source depth sampled at the projections, the same shape.

    Returns:
        The difference map, the shape of `projected_depth`.

    Raises:
        ValueError: the two depths differ in shape.

    Example:

    >>> import numpy as np
    >>> import kerastricks as kt
    >>> d = kt.losses.depth_difference(np.array([[2.0, 3.0]]), np.array([[2.0, 1.0]]))
    >>> np.asarray(d).round(3)
    array([[0. , 0.5]])
    """
    projected = ops.convert_to_tensor(projected_depth)
    sampled = ops.cast(ops.convert_to_tensor(sampled_depth), projected.dtype)
    check_same_shape("sampled_depth", sampled.shape, "projected_depth", projected.shape)
    total = projected + sampled
    safe = ops.where(total > 0, total, ops.ones_like(total))
    return ops.where(total > 0, ops.abs(projected - sampled) / safe, ops.zeros_like(total))


def depth_consistency(projected_depth, sampled_depth, mask=None):
    """Per-sample geometry consistency loss: the mean `depth_difference` over a mask.

    SC-SfMLearner's `L_GC`: the depth of each target point seen from the source camera
    against the source network's own depth there, averaged over the pixels the mask
    keeps (the warp's principled mask: points that project inside the source frame).
    It asks the depth network for the same scene geometry in neighbouring frames, so
    its scale, and the pose network's with it, stays consistent along a video.

    Reference:
        Bian et al., "Unsupervised Scale-consistent Depth and Ego-motion Learning from
        Monocular Video" (NeurIPS 2019), Eq. 6.

    Args:
        projected_depth: `[B, H, W]` or `[B, H, W, 1]` depths in the source camera.
        sampled_depth: the source depth sampled at the projections, the same shape.
        mask: optional weights in `[0, 1]`, as in `masked_reconstruction`.

    Returns:
        `[B]` losses in `[0, 1)`.

    Raises:
        ValueError: the depths differ in shape, or the mask's rank does not fit.

    Example:

    >>> import numpy as np
    >>> import kerastricks as kt
    >>> projected = np.array([[[2.0, 3.0], [4.0, 1.0]]])
    >>> sampled = np.array([[[2.0, 1.0], [4.0, 9.0]]])
    >>> mask = np.array([[[1.0, 1.0], [1.0, 0.0]]])  # the 9 is out of view
    >>> np.asarray(kt.losses.depth_consistency(projected, sampled, mask)).round(4)
    array([0.1667])
    """
    difference = depth_difference(projected_depth, sampled_depth)
    return masked_reconstruction(ops.zeros_like(difference), difference, mask)
