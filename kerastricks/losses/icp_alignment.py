"""The 3-D point-cloud alignment loss of vid2depth, built on ICP."""

import keras
from keras import ops

from kerastricks._checks import check_choice, check_int, check_number, fail
from kerastricks._registry import register
from kerastricks.geometry.icp import (
    NEIGHBORS,
    apply_rigid,
    evenly_spaced,
    icp_correspondences,
)

__all__ = ["icp_alignment", "ICPAlignment"]


def icp_alignment(
    y_true, y_pred, iterations=10, num_samples=None, max_distance=None, neighbors="auto"
):
    """Per-sample vid2depth 3-D loss `||T' - I||_1 + ||r||_1`, with ICP held constant.

    `y_pred` is a point cloud already moved by the predicted ego-motion (for vid2depth:
    the target frame's cloud `Q_t` moved into the source frame, `T Q_t`) and `y_true`
    the cloud it should coincide with (`Q_{t-1}`). ICP (`kt.geometry.icp`, started
    at the identity) finds the residual correction `T'` and the nearest-neighbour
    residuals `r = T' y_pred - y_true[c]`. The loss is the sum of

    - `||T' - I||_1`, the absolute entries of the top 3x4 block of `T' - I`: zero
      when the ego-motion is right;
    - the mean over points of `||r||_1` (L1 over x, y, z; the L1 rather than the
      Euclidean norm keeps the gradient finite at 0): zero when the depths agree.

    As in the paper, ICP's result is a constant target (stop-gradient): `T'` and the
    correspondences carry no gradient, and `y_true` gets none. The residual term is
    differentiated with respect to `y_pred` through `T' y_pred`; the transform term has
    the value `||T' - I||_1` and the gradient of `mean ||y_pred - sg(T' y_pred)||_1`
    (a straight-through estimate), which pulls the cloud towards where ICP would move
    it, the paper's "adjust the ego-motion towards `T'`". With `max_distance`, pairs
    farther apart are left out of the fit and the residual mean.

    Reference:
        Mahjourian, Wicke & Angelova, "Unsupervised Learning of Depth and Ego-Motion
        from Monocular Video Using 3D Geometric Constraints" (CVPR 2018), Sec. 3.3.

    Args:
        y_true: `[B, M, 3]` or `[B, H, W, 3]` target clouds.
        y_pred: `[B, N, 3]` or `[B, H, W, 3]` clouds moved by the predicted motion.
        iterations: ICP iterations. Defaults to `10`.
        num_samples: if set, both clouds are first subsampled to this many points at
            the same evenly spaced indices (so equal-size organised clouds keep
            pixel-to-pixel pairs); cost is `num_samples^2` per iteration. Defaults to
            `None` (all points; `N x M` per iteration).
        max_distance: ignore pairs farther apart than this. Defaults to `None`.
        neighbors: ICP's nearest-neighbour search: `"auto"`, `"grid"` (linear in the
            number of points) or `"brute_force"` (exact); see `kt.geometry.icp`.
            Defaults to `"auto"`.

    Returns:
        `[B]` losses.

    Raises:
        ValueError: bad shapes or argument values.
        TypeError: non-integer `iterations` or `num_samples`.

    Example:

    >>> import numpy as np
    >>> import kerastricks as kt
    >>> cloud = np.random.default_rng(0).uniform(-1, 1, (2, 100, 3)).astype("float32")
    >>> np.asarray(kt.losses.icp_alignment(cloud, cloud)).round(5) + 0.0
    array([0., 0.], dtype=float32)
    """
    iterations = check_int("iterations", iterations, minimum=0)
    target = _flat_cloud(ops.convert_to_tensor(y_true), "y_true")
    source = _flat_cloud(ops.convert_to_tensor(y_pred), "y_pred")
    target = ops.cast(target, source.dtype)
    if num_samples is not None:
        num_samples = check_int("num_samples", num_samples, minimum=3)
        target, source = evenly_spaced(target, num_samples), evenly_spaced(source, num_samples)
    transform, residuals, weights = icp_correspondences(
        source, target, iterations, None, max_distance, None, neighbors
    )
    transform = ops.cast(transform, source.dtype)
    rotation, translation = transform[:, :3, :3], transform[:, None, :3, 3]
    # Constant target of every point: its nearest target partner (from ICP's residuals).
    aligned_constant = ops.stop_gradient(apply_rigid(source, rotation, translation))
    partners = ops.stop_gradient(aligned_constant - ops.cast(residuals, source.dtype))
    weights = ops.cast(weights, source.dtype)

    aligned = apply_rigid(source, rotation, translation)  # differentiable in y_pred
    residual_l1 = ops.sum(ops.abs(aligned - partners), axis=-1)
    residual_term = ops.sum(residual_l1 * weights, axis=1) / ops.maximum(
        ops.sum(weights, axis=1), 1.0
    )
    identity = ops.eye(4, dtype=source.dtype)[:3]
    transform_value = ops.sum(ops.abs(transform[:, :3] - identity), axis=(1, 2))
    pull = ops.mean(ops.sum(ops.abs(source - aligned_constant), axis=-1), axis=1)
    transform_term = transform_value + pull - ops.stop_gradient(pull)
    return transform_term + residual_term


def _flat_cloud(points, name):
    if len(points.shape) not in (3, 4) or points.shape[-1] != 3:
        fail(f"`{name}` must have shape [B, N, 3] or [B, H, W, 3].", f"{name}.shape", points.shape)
    return ops.reshape(points, (ops.shape(points)[0], -1, 3))


@register
class ICPAlignment(keras.losses.Loss):
    """The vid2depth 3-D loss `||T' - I||_1 + ||r||_1` as a Keras loss.

    Computes `icp_alignment(y_true, y_pred)`: ICP aligns `y_pred` (a cloud moved by
    the predicted ego-motion) to `y_true`; the loss is the size of the correction `T'`
    plus the mean L1 residual, with ICP's output held constant (see `icp_alignment`
    for the gradients).

    Reference:
        Mahjourian, Wicke & Angelova (CVPR 2018), Sec. 3.3.

    Args:
        iterations: ICP iterations. Defaults to `10`.
        num_samples: subsample both clouds to this many points. Defaults to `None`.
        max_distance: ignore pairs farther apart than this. Defaults to `None`.
        neighbors: nearest-neighbour search, `"auto"`, `"grid"` or `"brute_force"`.
            Defaults to `"auto"`.
        reduction: Keras reduction. Defaults to `"sum_over_batch_size"`.
        name: loss name. Defaults to `"icp_alignment"`.
        dtype: dtype of the loss computation. Defaults to `None` (float32).

    Call arguments:
        y_true: `[B, M, 3]` or `[B, H, W, 3]` target clouds.
        y_pred: `[B, N, 3]` or `[B, H, W, 3]` moved clouds.
        sample_weight: optional `[B]` weights.

    Returns:
        The reduced loss (`[B]` with `reduction=None`).

    Raises:
        ValueError, TypeError: bad arguments, at construction.

    Example:

    >>> import numpy as np
    >>> import kerastricks as kt
    >>> rng = np.random.default_rng(0)
    >>> cloud = rng.uniform(-1, 1, (1, 200, 3)).astype("float32")
    >>> loss = kt.losses.ICPAlignment(iterations=5)
    >>> float(loss(cloud, cloud + [0.02, 0.0, 0.0])) > float(loss(cloud, cloud))
    True
    """

    def __init__(
        self,
        iterations=10,
        num_samples=None,
        max_distance=None,
        neighbors="auto",
        reduction="sum_over_batch_size",
        name="icp_alignment",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.iterations = check_int("iterations", iterations, minimum=0)
        self.num_samples = (
            None if num_samples is None else check_int("num_samples", num_samples, minimum=3)
        )
        self.max_distance = (
            None
            if max_distance is None
            else check_number("max_distance", max_distance, minimum=0, min_inclusive=False)
        )
        self.neighbors = check_choice("neighbors", neighbors, NEIGHBORS)

    def call(self, y_true, y_pred):
        return icp_alignment(
            y_true,
            y_pred,
            self.iterations,
            self.num_samples,
            self.max_distance,
            self.neighbors,
        )

    def get_config(self):
        return {
            **super().get_config(),
            "iterations": self.iterations,
            "num_samples": self.num_samples,
            "max_distance": self.max_distance,
            "neighbors": self.neighbors,
        }
