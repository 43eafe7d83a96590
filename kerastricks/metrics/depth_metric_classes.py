"""Keras metrics of monocular depth: `AbsRel`, `SqRel`, `DepthRMSE`, `DepthRMSELog`,
`DeltaAccuracy`, each the mean over images of one value of `depth_metrics`."""

from kerastricks._checks import check_int, check_number, check_type
from kerastricks._registry import register
from kerastricks.metrics._sample_mean import SampleMean
from kerastricks.metrics.depth_metrics import depth_metrics

__all__ = ["AbsRel", "SqRel", "DepthRMSE", "DepthRMSELog", "DeltaAccuracy"]

_SHARED_DOC = """
    Each image contributes its value from `kt.metrics.depth_metrics` (pixels with true depth
    in `(min_depth, max_depth)`, prediction rescaled per image by the ratio of medians
    when `median_scaling`, then clipped); images with no such pixel are left out. The
    result is the (sample-weighted) mean over every counted image of every batch and
    replica since the last reset: the number monocular depth papers report.

    Reference:
        Eigen, Puhrsch & Fergus (NeurIPS 2014); Zhou et al. (CVPR 2017) for median
        scaling.

    Args:
{extra}        min_depth: lower bound of counted and predicted depth. Defaults to `1e-3`.
        max_depth: the depth cap. Defaults to `80.0`.
        median_scaling: rescale each prediction by the ratio of medians. Defaults to
            `True`.
        name: metric name. Defaults to `"{name}"`.
        dtype: dtype of the state. Defaults to `None` (float32).

    Call arguments:
        y_true: true depth `[B, H, W]` or `[B, H, W, 1]` (0 marks missing ground truth).
        y_pred: predicted depth, same shape, positive.
        sample_weight: optional `[B]` weights.

    Raises:
        ValueError, TypeError: bad arguments, at construction.

    Example:

    >>> import numpy as np
    >>> import kerastricks as kt
    >>> true = np.array([[[2.0, 4.0], [8.0, 0.0]]])  # 0: no ground truth
    >>> metric = {example}
    >>> metric.update_state(true, 3.0 * true)  # right up to scale
    >>> float(metric.result())
    {result}
"""


class _DepthMetric(SampleMean):
    """The mean over counted images of `depth_metrics(...)[self.key]`."""

    key = None
    argument_names = ("min_depth", "max_depth", "median_scaling")

    def __init__(self, min_depth=1e-3, max_depth=80.0, median_scaling=True, name=None, dtype=None):
        super().__init__(name=name or self.key, dtype=dtype)
        self.min_depth = check_number("min_depth", min_depth, minimum=0.0, min_inclusive=False)
        self.max_depth = check_number(
            "max_depth", max_depth, minimum=self.min_depth, min_inclusive=False
        )
        self.median_scaling = check_type("median_scaling", median_scaling, bool, "a bool")

    def per_sample(self, y_true, y_pred):
        result = depth_metrics(y_true, y_pred, self.min_depth, self.max_depth, self.median_scaling)
        return result[self.key], result["valid_pixels"] > 0


def _documented(summary, key, example="", result="0.0", extra=""):
    def decorate(cls):
        example_call = example or f"kt.metrics.{cls.__name__}()"
        cls.__doc__ = (
            summary
            + "\n"
            + _SHARED_DOC.format(extra=extra, name=key, example=example_call, result=result)
        )
        return cls

    return decorate


@register
@_documented("Absolute relative depth error `mean(|d - d_hat| / d)` (Abs Rel).", "abs_rel")
class AbsRel(_DepthMetric):
    key = "abs_rel"


@register
@_documented("Squared relative depth error `mean((d - d_hat)^2 / d)` (Sq Rel).", "sq_rel")
class SqRel(_DepthMetric):
    key = "sq_rel"


@register
@_documented("Root mean squared depth error `sqrt(mean((d - d_hat)^2))` (RMSE).", "rmse")
class DepthRMSE(_DepthMetric):
    key = "rmse"


@register
@_documented(
    "Root mean squared log depth error `sqrt(mean((log d - log d_hat)^2))` (RMSE log).",
    "rmse_log",
)
class DepthRMSELog(_DepthMetric):
    key = "rmse_log"


@register
@_documented(
    "Threshold accuracy `mean(max(d / d_hat, d_hat / d) < 1.25^exponent)` (delta < 1.25^k).",
    "delta_1",
    example="kt.metrics.DeltaAccuracy(exponent=1)",
    result="1.0",
    extra="        exponent: `k` of the threshold `1.25^k`: 1, 2 or 3. Defaults to `1`.\n",
)
class DeltaAccuracy(_DepthMetric):
    argument_names = ("exponent",) + _DepthMetric.argument_names

    def __init__(
        self,
        exponent=1,
        min_depth=1e-3,
        max_depth=80.0,
        median_scaling=True,
        name=None,
        dtype=None,
    ):
        self.exponent = check_int("exponent", exponent, minimum=1, maximum=3)
        self.key = f"delta_{self.exponent}"
        super().__init__(min_depth, max_depth, median_scaling, name, dtype)
