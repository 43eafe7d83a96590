"""Absolute trajectory error on short snippets (SfMLearner, vid2depth): `trajectory_error`
and the metric `TrajectoryError`."""

from keras import ops

from kerastricks._checks import check_int, fail
from kerastricks._registry import register
from kerastricks.metrics._sample_mean import SampleMean

__all__ = ["snippet_positions", "trajectory_error", "TrajectoryError"]


def trajectory_error(y_true, y_pred):
    """Computes the absolute trajectory error (ATE) of each snippet after scale alignment.

    The odometry metric of SfMLearner and vid2depth (their Table 3): for a snippet of `N`
    camera positions, both expressed in the snippet's first camera frame, the first
    predicted position is moved onto the first true one, the prediction is scaled by the
    least-squares factor `s = sum(p_true * p_pred) / sum(p_pred^2)` (monocular ego-motion
    is known only up to scale), and the error is `sqrt(sum ||s p_pred - p_true||^2) / N`:
    this is the original code's normalisation (the root of the summed squares divided by
    `N`, not a root mean square). Papers report the mean and standard deviation over all
    snippets of a sequence.

    Reference:
        Zhou, Brown, Snavely & Lowe, "Unsupervised Learning of Depth and Ego-Motion from
        Video" (CVPR 2017), `compute_ate` of its evaluation code; Mahjourian et al.
        (CVPR 2018), Table 3, on 3-frame snippets.

    Args:
        y_true: true camera positions `[B, N, 3]` (`N >= 2`), e.g. from
            `snippet_positions`.
        y_pred: predicted camera positions, same shape.

    Returns:
        The error of each snippet, float32 `[B]`, in the units of `y_true`.

    Raises:
        ValueError: the inputs are not `[B, N, 3]` of the same shape.

    Example:

    >>> import numpy as np
    >>> import kerastricks as kt
    >>> true = np.array([[[0.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.1, 0.0, 2.0]]])
    >>> float(kt.metrics.trajectory_error(true, 0.5 * true)[0])  # right up to scale
    0.0
    >>> pred = np.array([[[0.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 2.0]]])
    >>> round(float(kt.metrics.trajectory_error(true, pred)[0]), 4)  # sqrt(0.1^2) / 3
    0.0333
    """
    y_true = ops.cast(ops.convert_to_tensor(y_true), "float32")
    y_pred = ops.cast(ops.convert_to_tensor(y_pred), "float32")
    shape = tuple(y_true.shape)
    if len(shape) != 3 or shape[-1] != 3 or shape != tuple(y_pred.shape):
        fail(
            "`y_true` and `y_pred` must both be camera positions of shape [B, N, 3].",
            "shapes",
            (shape, tuple(y_pred.shape)),
        )
    y_pred = y_pred + (y_true[:, :1] - y_pred[:, :1])
    numerator = ops.sum(y_true * y_pred, axis=(1, 2))
    denominator = ops.sum(ops.square(y_pred), axis=(1, 2))
    scale = numerator / ops.maximum(denominator, 1e-12)
    error = y_pred * scale[:, None, None] - y_true
    count = ops.cast(ops.shape(y_true)[1], "float32")
    return ops.sqrt(ops.sum(ops.square(error), axis=(1, 2))) / count


def snippet_positions(poses, target_index: int):
    """Camera positions of a snippet in its first camera's frame, from target-to-source poses.

    A snippet of `S + 1` frames has one target frame (at `target_index`) and `S` source
    frames; `poses[:, k]` maps points from the target camera frame into the `k`-th source
    camera frame (the convention of `kt.geometry.projective_inverse_warp` and of the pose
    network). Camera `k` sits at `-R_k^T t_k` in the target frame; the positions are then
    moved into the first frame of the snippet, as `trajectory_error` expects.

    Convention:
        `poses[:, k] = [[R_k, t_k], [0, 1]]` maps target-frame points `X` to
        `R_k X + t_k` in source frame `k`. Source frames are listed in snippet order,
        skipping the target: with `target_index=1`, frames are `(source 0, target,
        source 1)`.

    Args:
        poses: rigid transforms `[B, S, 4, 4]` (convert 6-vectors with
            `kt.geometry.pose_vec_to_matrix`).
        target_index: position of the target frame in the snippet, in `[0, S]`.

    Returns:
        Positions `[B, S + 1, 3]` (float32) of the snippet's cameras, in order, in the
        first camera's frame (so the first is at the origin).

    Raises:
        ValueError: `poses` is not `[B, S, 4, 4]`, or `target_index` is out of range.

    Example:

    >>> import numpy as np
    >>> import kerastricks as kt
    >>> back, ahead = np.eye(4), np.eye(4)
    >>> back[2, 3], ahead[2, 3] = 1.0, -1.0  # driving 1 m per frame along z
    >>> positions = kt.metrics.snippet_positions(np.array([[back, ahead]]), target_index=1)
    >>> np.asarray(positions)[0].tolist()
    [[0.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 2.0]]
    """
    poses = ops.cast(ops.convert_to_tensor(poses), "float32")
    shape = tuple(poses.shape)
    if len(shape) != 4 or shape[-2:] != (4, 4):
        fail("`poses` must be rigid transforms of shape [B, S, 4, 4].", "poses.shape", shape)
    target_index = check_int("target_index", target_index, minimum=0, maximum=shape[1])
    rotation, translation = poses[..., :3, :3], poses[..., :3, 3]
    centres = -ops.einsum("bsji,bsj->bsi", rotation, translation)  # -R^T t
    origin = ops.zeros_like(centres[:, :1])
    centres = ops.concatenate([centres[:, :target_index], origin, centres[:, target_index:]], 1)
    if target_index == 0:
        return centres
    return ops.einsum("bij,bnj->bni", rotation[:, 0], centres) + translation[:, :1]


@register
class TrajectoryError(SampleMean):
    """The absolute trajectory error metric: mean ATE over all snippets seen.

    Each snippet contributes its `trajectory_error` (after aligning the first position
    and the least-squares scale); the result is the (sample-weighted) mean over every
    snippet of every batch and replica since the last reset: the mean papers report.
    Lower is better.

    Reference:
        Zhou et al. (CVPR 2017), `compute_ate`; Mahjourian et al. (CVPR 2018), Table 3.

    Args:
        name: metric name. Defaults to `"trajectory_error"`.
        dtype: dtype of the state. Defaults to `None` (float32).

    Call arguments:
        y_true: true camera positions `[B, N, 3]`.
        y_pred: predicted camera positions, same shape.
        sample_weight: optional `[B]` weights.

    Example:

    >>> import numpy as np
    >>> import kerastricks as kt
    >>> true = np.array([[[0.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.1, 0.0, 2.0]]])
    >>> pred = np.array([[[0.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 0.0, 2.0]]])
    >>> metric = kt.metrics.TrajectoryError()
    >>> metric.update_state(true, 0.5 * true)  # right up to scale: 0
    >>> metric.update_state(true, pred)  # sqrt(0.1^2) / 3
    >>> round(float(metric.result()), 4)  # (0 + 0.0333) / 2
    0.0167
    """

    def __init__(self, name="trajectory_error", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def per_sample(self, y_true, y_pred):
        return trajectory_error(y_true, y_pred), None
