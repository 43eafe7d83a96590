"""Abs Rel split by ranges of true depth, per image: `abs_rel_by_range`."""

from numbers import Real

from keras import ops

from kerastricks._checks import check_type, fail
from kerastricks.metrics.depth_metrics import scaled_depths

__all__ = ["abs_rel_by_range"]


def abs_rel_by_range(
    y_true,
    y_pred,
    bounds=(1.0, 2.0, 5.0, 10.0, 20.0),
    min_depth: float = 1e-3,
    max_depth: float = 80.0,
    median_scaling: bool = True,
) -> dict:
    """Splits each image's Abs Rel into the ranges of true depth its error comes from.

    The pixels, median scaling and cap are those of `depth_metrics` (same arguments,
    same protocol); the counted pixels of each image are then grouped by their true
    depth `d` into `len(bounds) + 1` ranges `[min_depth, b_0), [b_0, b_1), ...,
    [b_last, max_depth)`. For range `r` of an image with `n` counted pixels, `n_r` of
    them in the range:

    - `share = n_r / n`, the fraction of the image's counted pixels in the range;
    - `abs_rel = mean(|d - d_hat| / d)` over the range's pixels (0 when `n_r = 0`);
    - `contribution = share * abs_rel = sum_r(|d - d_hat| / d) / n`: the ranges'
      contributions add up to the image's `depth_metrics(...)["abs_rel"]`.

    Abs Rel divides by the true depth, so a few very near pixels can dominate it; this
    split shows where an error comes from. To pool over images as the papers average
    Abs Rel (per image, then over images), average `share` and `contribution` over the
    images; their ratio is the range's Abs Rel with each pixel weighted like in the
    overall mean.

    Reference:
        Eigen, Puhrsch & Fergus, "Depth Map Prediction from a Single Image using a
        Multi-Scale Deep Network" (NeurIPS 2014), for Abs Rel and its protocol.

    Args:
        y_true: true depth `[B, H, W]` or `[B, H, W, 1]`; only values in
            `(min_depth, max_depth)` count (0 marks missing ground truth).
        y_pred: predicted depth, same shape, positive.
        bounds: increasing inner bounds of the ranges, strictly between `min_depth` and
            `max_depth`. Defaults to `(1.0, 2.0, 5.0, 10.0, 20.0)` (metres).
        min_depth: lower bound of counted and predicted depth. Defaults to `1e-3`.
        max_depth: the depth cap. Defaults to `80.0`.
        median_scaling: rescale each prediction by the ratio of medians first. Defaults
            to `True`.

    Returns:
        A dict of float32 tensors of shape `[B, len(bounds) + 1]`: `"share"`,
        `"abs_rel"`, `"contribution"` and `"pixels"` (the count `n_r`).

    Raises:
        ValueError: `bounds` not increasing or not inside `(min_depth, max_depth)`, and
            the errors of `depth_metrics`.
        TypeError: `bounds` is not a sequence of numbers.

    Example:

    >>> import numpy as np
    >>> import kerastricks as kt
    >>> true = np.array([[0.5, 4.0, 8.0, 30.0]])  # one pixel in four of the ranges
    >>> pred = np.array([[2.0, 4.0, 8.0, 30.0]])  # wrong only at 0.5 m
    >>> split = kt.metrics.abs_rel_by_range(true, pred, median_scaling=False)
    >>> [round(float(v), 2) for v in split["contribution"][0]]
    [0.75, 0.0, 0.0, 0.0, 0.0, 0.0]
    >>> [round(float(v), 2) for v in split["share"][0]]
    [0.25, 0.0, 0.25, 0.25, 0.0, 0.25]
    """
    true, pred, valid, _ = scaled_depths(y_true, y_pred, min_depth, max_depth, median_scaling)
    check_type("bounds", bounds, (list, tuple), "a list or tuple of numbers")
    if not all(isinstance(b, Real) and not isinstance(b, bool) for b in bounds):
        fail("`bounds` must hold numbers.", "bounds", bounds, error=TypeError)
    edges = [float(min_depth), *map(float, bounds), float(max_depth)]
    if any(low >= high for low, high in zip(edges, edges[1:])):
        fail(
            "`bounds` must increase strictly and lie strictly between `min_depth` and "
            f"`max_depth` ({min_depth}, {max_depth}).",
            "bounds",
            bounds,
        )
    error = ops.where(valid, ops.abs(true - pred) / true, 0.0)
    count = ops.maximum(ops.sum(ops.cast(valid, "float32"), axis=-1), 1.0)
    pixels, sums = [], []
    for low, high in zip(edges, edges[1:]):
        inside = ops.cast(ops.logical_and(valid, (true >= low) & (true < high)), "float32")
        pixels.append(ops.sum(inside, axis=-1))
        sums.append(ops.sum(error * inside, axis=-1))
    pixels, sums = ops.stack(pixels, axis=-1), ops.stack(sums, axis=-1)
    return {
        "share": pixels / count[:, None],
        "abs_rel": sums / ops.maximum(pixels, 1.0),
        "contribution": sums / count[:, None],
        "pixels": pixels,
    }
