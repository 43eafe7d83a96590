"""The standard monocular depth metrics (Eigen et al. 2014), per image: `depth_metrics`."""

from keras import ops

from kerastricks._checks import check_number, check_type, fail

__all__ = ["depth_metrics"]

NAMES = ("abs_rel", "sq_rel", "rmse", "rmse_log", "delta_1", "delta_2", "delta_3")


def depth_metrics(
    y_true,
    y_pred,
    min_depth: float = 1e-3,
    max_depth: float = 80.0,
    median_scaling: bool = True,
) -> dict:
    """Computes Abs Rel, Sq Rel, RMSE, RMSE log and the delta accuracies of each depth map.

    The evaluation protocol of monocular depth on KITTI (Eigen et al.; the code of
    SfMLearner and vid2depth): a pixel counts when its true depth `d` lies in
    `(min_depth, max_depth)` (the cap; 0 marks missing ground truth). With
    `median_scaling`, each prediction is first multiplied by
    `median(d) / median(d_hat)` over the counted pixels, since a monocular network
    knows depth only up to scale; then it is clipped to `[min_depth, max_depth]`. Over the
    counted pixels of each image:

    - `abs_rel = mean(|d - d_hat| / d)`, `sq_rel = mean((d - d_hat)^2 / d)`,
    - `rmse = sqrt(mean((d - d_hat)^2))`, `rmse_log = sqrt(mean((log d - log d_hat)^2))`,
    - `delta_k = mean(max(d / d_hat, d_hat / d) < 1.25^k)` for `k = 1, 2, 3`.

    Papers report the mean over images of these per-image values. An image with no
    counted pixel gets 0 everywhere (and `valid_pixels = 0`): drop it before averaging.

    Reference:
        Eigen, Puhrsch & Fergus, "Depth Map Prediction from a Single Image using a
        Multi-Scale Deep Network" (NeurIPS 2014); Zhou et al., "Unsupervised Learning of
        Depth and Ego-Motion from Video" (CVPR 2017) for median scaling.

    Args:
        y_true: true depth `[B, H, W]` or `[B, H, W, 1]` (any values; only those in
            `(min_depth, max_depth)` count).
        y_pred: predicted depth, same shape, positive.
        min_depth: lower bound of counted and predicted depth. Defaults to `1e-3`.
        max_depth: the depth cap. Defaults to `80.0` (metres, as on KITTI).
        median_scaling: rescale each prediction by the ratio of medians. Defaults to
            `True`.

    Returns:
        A dict of float32 tensors of shape `[B]`: `"abs_rel"`, `"sq_rel"`, `"rmse"`,
        `"rmse_log"`, `"delta_1"`, `"delta_2"`, `"delta_3"`, `"scale"` (the median ratio,
        1 without scaling) and `"valid_pixels"`.

    Raises:
        ValueError: `min_depth` not positive or not below `max_depth`; inputs of rank
            below 2 or of different shapes.
        TypeError: `median_scaling` is not a bool.

    Example:

    >>> import numpy as np
    >>> import kerastricks as kt
    >>> true = np.array([[[2.0, 4.0], [8.0, 0.0]]])  # 0: no ground truth
    >>> result = kt.metrics.depth_metrics(true, 3.0 * true)  # right up to scale
    >>> float(result["abs_rel"][0]), float(result["delta_1"][0]), float(result["scale"][0])
    (0.0, 1.0, 0.333...)
    >>> unscaled = kt.metrics.depth_metrics(true, 3.0 * true, median_scaling=False)
    >>> float(unscaled["abs_rel"][0]), int(unscaled["valid_pixels"][0])
    (2.0, 3)
    """
    true, pred, valid, scale = scaled_depths(y_true, y_pred, min_depth, max_depth, median_scaling)
    weight = ops.cast(valid, "float32")
    count = ops.sum(weight, axis=-1)

    def mean(values):
        return ops.sum(values * weight, axis=-1) / ops.maximum(count, 1.0)

    ratio = ops.maximum(true / pred, pred / true)
    result = {
        "abs_rel": mean(ops.abs(true - pred) / true),
        "sq_rel": mean(ops.square(true - pred) / true),
        "rmse": ops.sqrt(mean(ops.square(true - pred))),
        "rmse_log": ops.sqrt(mean(ops.square(ops.log(true) - ops.log(pred)))),
    }
    for k in (1, 2, 3):
        result[f"delta_{k}"] = mean(ops.cast(ratio < 1.25**k, "float32"))
    result["scale"] = scale
    result["valid_pixels"] = count
    return result


def scaled_depths(y_true, y_pred, min_depth, max_depth, median_scaling):
    """The evaluation protocol's first half, shared by `depth_metrics` and its by-range twin.

    Checks the arguments, flattens each map to `[B, N]`, marks the counted pixels
    (true depth in `(min_depth, max_depth)`), median-scales and clips the prediction.
    Returns `(true, pred, valid, scale)`, with `true = pred = 1` on uncounted pixels
    (finite everywhere) and `scale` of shape `[B]`.
    """
    min_depth = check_number("min_depth", min_depth, minimum=0.0, min_inclusive=False)
    max_depth = check_number("max_depth", max_depth, minimum=min_depth, min_inclusive=False)
    check_type("median_scaling", median_scaling, bool, "a bool")
    y_true = ops.cast(ops.convert_to_tensor(y_true), "float32")
    y_pred = ops.cast(ops.convert_to_tensor(y_pred), "float32")
    if len(y_true.shape) < 2 or tuple(y_true.shape) != tuple(y_pred.shape):
        fail(
            "`y_true` and `y_pred` must have the same shape [B, H, W] or [B, H, W, 1].",
            "shapes",
            (tuple(y_true.shape), tuple(y_pred.shape)),
        )
    batch = ops.shape(y_true)[0]
    true = ops.reshape(y_true, (batch, -1))
    pred = ops.reshape(y_pred, (batch, -1))
    valid = ops.logical_and(true > min_depth, true < max_depth)
    count = ops.sum(ops.cast(valid, "float32"), axis=-1)
    if median_scaling:
        pred_median = ops.maximum(_masked_median(pred, valid, count), 1e-12)
        scale = ops.where(count > 0, _masked_median(true, valid, count) / pred_median, 1.0)
    else:
        scale = ops.ones_like(count)
    pred = ops.clip(pred * scale[:, None], min_depth, max_depth)
    return ops.where(valid, true, 1.0), ops.where(valid, pred, 1.0), valid, scale


def _masked_median(values, valid, count):
    """Median of each row's valid entries (the mean of the two middle ones if even)."""
    ordered = ops.sort(ops.where(valid, values, float("inf")), axis=-1)
    index = ops.cast(ops.maximum(count, 1.0), "int32")
    lower = ops.take_along_axis(ordered, ((index - 1) // 2)[:, None], axis=-1)[:, 0]
    upper = ops.take_along_axis(ordered, (index // 2)[:, None], axis=-1)[:, 0]
    return ops.where(count > 0, 0.5 * (lower + upper), 0.0)
