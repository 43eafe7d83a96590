"""The findings of `TrainingDoctor`: their codes, the fixes it suggests, and the rules.

Each rule takes plain numbers (losses, norms, statistics) and returns the evidence of a
finding as a dict, or `None` when all is well, so that the rules can be read and tested
apart from the callback.
"""

import dataclasses

import numpy as np

from kerastricks._checks import MAX_ITEMS, check_type, fail, shorten

__all__ = ["CODES", "DEFAULT_THRESHOLDS", "Finding"]

CODES = {
    "loss_at_init": (
        "Pair the output activation with the loss: softmax + categorical cross-entropy for "
        "one label among C classes, sigmoid + binary cross-entropy for independent yes/no "
        "labels, linear + mean squared error for (standardised) regression targets. "
        "Initialise the last layer small, its bias at the target mean or the log class prior."
    ),
    "not_learning": (
        "Call kt.callbacks.overfit_one_batch first: if the model cannot fit one batch, look "
        "for a bug (labels, loss, frozen or dead layers). Otherwise try the rate suggested "
        "by kt.callbacks.LRFinder, normalise the inputs, and ask whether the target is "
        "learnable by gradient descent at all: a hard yes/no over a whole input gives no "
        "gradient; add a smooth surrogate or auxiliary target."
    ),
    "diverging": (
        "Lower the learning rate (kt.callbacks.LRFinder suggests one), clip gradients "
        "(clipnorm=1.0), and look for extreme values in the inputs and targets."
    ),
    "non_finite": (
        "Find the operation that produced it: a log or division of zero (add an epsilon, "
        "or use the loss with from_logits=True), an exp that overflows, sqrt at 0 in the "
        "backward pass. If the weights blew up first, lower the learning rate."
    ),
    "lr_too_high": (
        "Lower the learning rate 10x or more (kt.callbacks.LRFinder suggests one): one "
        "update should change a layer's weights by about 1e-3 of their norm."
    ),
    "lr_too_low": (
        "Raise the learning rate 10x or more (kt.callbacks.LRFinder suggests one): one "
        "update should change a layer's weights by about 1e-3 of their norm."
    ),
    "dead_units": (
        "Lower the learning rate, initialise with He-normal and zero or slightly positive "
        "biases, or use a leaky activation (LeakyReLU, GELU) so that units can recover."
    ),
    "vanishing_gradients": (
        "Use ReLU-family activations instead of sigmoid or tanh in deep stacks, add batch "
        "normalization or residual connections, check for dead layers that block the "
        "gradient, and use He or Glorot initialisation."
    ),
    "batchnorm_not_updating": (
        "Call the layer in training mode during training: do not pass training=False to a "
        "batch normalization layer you mean to train, and keep its momentum below 1."
    ),
    "frozen_batchnorm_stats": (
        "Unfreeze the batch normalization layer (trainable=True) so that it measures your "
        "data, or freeze it only with statistics computed on similar data (a pretrained "
        "backbone whose inputs are preprocessed as in pretraining)."
    ),
    "labels_misaligned": (
        "Check that inputs and labels are shuffled together and read in the same order "
        "(file lists sorted alike, no shuffle on one side only) and that the label encoding "
        "is the one the loss expects."
    ),
    "cannot_overfit_batch": (
        "A network should memorise one small batch. Before a long run, look for a bug: "
        "frozen or dead layers, a wrong loss/activation pairing, inputs not normalised, a "
        "learning rate far off."
    ),
}

DEFAULT_THRESHOLDS = {
    "window": 500,  # steps before `not_learning` is judged
    "min_improvement": 0.05,  # relative fall of the loss expected over the window
    "init_loss_ratio": 2.5,  # first loss / loss of the best constant prediction
    "update_ratio_low": 1e-5,  # per-step |dW| / |W|; about 1e-3 is healthy
    "update_ratio_high": 1e-1,
    "dead_fraction": 0.7,  # fraction of ReLU units zero on the whole probe batch
    "vanishing_ratio": 1e-4,  # smallest / largest relative gradient over layers
    "divergence_factor": 5.0,  # smoothed loss / its best value
    "bn_mismatch": 1.0,  # |batch mean - moving mean| / moving std (median over channels)
    "label_probe_steps": 100,  # steps of the one-batch label probe at the start
}


@dataclasses.dataclass(frozen=True)
class Finding:
    """One diagnosis: a code from `CODES`, what was seen, the numbers, and a fix."""

    code: str
    message: str
    evidence: dict
    fix: str
    step: int

    def __str__(self):
        evidence = ", ".join(f"{k}={_format(v)}" for k, v in self.evidence.items())
        return (
            f"TrainingDoctor [{self.code}] at step {self.step}: {self.message}\n"
            f"  evidence: {evidence}\n  fix: {self.fix}"
        )


def _format(value):
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, dict):
        shown = list(value.items())[:MAX_ITEMS]
        rest = f", ... and {len(value) - MAX_ITEMS} more" if len(value) > MAX_ITEMS else ""
        return "{" + ", ".join(f"{k}: {_format(v)}" for k, v in shown) + rest + "}"
    if isinstance(value, (list, tuple, set)):
        return shorten(value)
    return str(value)


def init_evidence(loss, baseline, limit, y, prediction):
    """`loss_at_init`: the first loss is far from the best constant's, or the outputs of a
    one-hot classifier do not sum to one (sigmoid or linear outputs under a regression loss).
    """
    evidence = {}
    if baseline and loss > limit * baseline:
        evidence.update(initial_loss=loss, constant_prediction_loss=baseline)
        evidence["ratio"] = loss / baseline
    if _one_hot(y) and isinstance(prediction, np.ndarray) and prediction.shape == y.shape:
        total = float(np.mean(np.sum(prediction, axis=-1)))
        if 0.0 <= prediction.min() and prediction.max() <= 1.0 and abs(total - 1.0) > 0.5:
            evidence.update(classes=int(y.shape[-1]), mean_sum_of_outputs=total)
    return evidence or None


def _one_hot(y):
    if not isinstance(y, np.ndarray) or y.ndim != 2 or y.shape[-1] < 3:
        return False
    return bool(np.all((y == 0) | (y == 1)) and np.all(y.sum(axis=-1) == 1))


def not_learning_evidence(losses, baseline, window, min_improvement):
    """`not_learning`: the recent loss is not `min_improvement` below where it started
    (or below the best constant prediction, whichever is lower)."""
    losses = np.asarray(losses, "float64")
    if len(losses) < window or not np.all(np.isfinite(losses)):
        return None
    start = float(np.mean(losses[: max(1, window // 20)]))
    recent = float(np.mean(losses[-max(1, window // 5) :]))
    reference = min(start, baseline) if baseline else start
    if recent < (1.0 - min_improvement) * reference:
        return None
    evidence = {"steps": len(losses), "initial_loss": start, "recent_loss": recent}
    if baseline:
        evidence["constant_prediction_loss"] = baseline
    return evidence


def update_ratios(names, before, after):
    """Per-variable `|after - before| / |before|` (variables with zero norm skipped)."""
    ratios = {}
    for name, old, new in zip(names, before, after, strict=True):
        norm = float(np.linalg.norm(old))
        if norm > 0 and np.all(np.isfinite(new)):
            ratios[name] = float(np.linalg.norm(new - old)) / norm
    return ratios


def vanishing_evidence(names, grad_norms, weight_norms, limit):
    """`vanishing_gradients`: no kernel gets a gradient, or the smallest non-zero relative
    gradient is `limit` times smaller than the largest."""
    relative = {
        name: g / w
        for name, g, w in zip(names, grad_norms, weight_norms, strict=True)
        if w > 0 and np.isfinite(g)
    }
    if not relative:
        return None
    largest = max(relative, key=relative.get)
    if relative[largest] == 0:
        return {"kernels": len(relative), "largest_gradient_over_weight": 0.0}
    # Exact zeros are left out: a head whose loss weight is 0 gets none, by design.
    relative = {name: value for name, value in relative.items() if value > 0}
    smallest = min(relative, key=relative.get)
    if relative[smallest] >= limit * relative[largest]:
        return None
    return {
        "smallest_layer": smallest,
        "smallest_gradient_over_weight": relative[smallest],
        "largest_layer": largest,
        "largest_gradient_over_weight": relative[largest],
    }


def bn_mismatch(batch_mean, batch_variance, moving_mean, moving_variance, epsilon):
    """Median over channels of `|batch mean - moving mean| / moving std`, and of the
    variance ratio `batch variance / moving variance`."""
    std = np.sqrt(np.asarray(moving_variance, "float64") + epsilon)
    z = float(np.median(np.abs(np.asarray(batch_mean) - moving_mean) / std))
    ratio = float(np.median((np.asarray(batch_variance) + epsilon) / (std**2)))
    return z, ratio


def frozen_bn_evidence(layers, batch_stats, limit):
    """`frozen_batchnorm_stats`: frozen layers whose statistics are off their inputs' (by
    `limit` moving standard deviations in the mean, or 10x in the variance), or, without
    the inputs' statistics, still at their initial values 0 and 1."""
    evidence = {}
    for layer in layers:
        if layer.trainable:
            continue
        mean, variance = layer.moving_mean.numpy(), layer.moving_variance.numpy()
        if layer.name in batch_stats:
            z, ratio = bn_mismatch(*batch_stats[layer.name], mean, variance, layer.epsilon)
            if z > limit or not 0.1 <= ratio <= 10:
                evidence[layer.name] = {"mean_offset_in_std": z, "variance_ratio": ratio}
        elif np.all(mean == 0) and np.all(variance == 1):
            evidence[layer.name] = "statistics never computed (0 and 1)"
    return evidence


def stuck_bn_layers(layers, before, after):
    """`batchnorm_not_updating`: names of trainable layers whose moving mean and variance
    (`before` and `after` one step, two arrays per layer) did not change."""
    return [
        layer.name
        for i, layer in enumerate(layers)
        if layer.trainable
        and np.array_equal(before[2 * i], after[2 * i])
        and np.array_equal(before[2 * i + 1], after[2 * i + 1])
    ]


def label_findings(report):
    """`(code, message, evidence)` of the start-of-training label probe (an `OverfitReport`).

    A short probe: "cannot fit" only if the loss did not even halve (against the best
    constant prediction's); `overfit_one_batch` itself asks for a tenth, in more steps.
    """
    evidence = {
        "first_loss": report.losses[0],
        "final_loss": report.losses[-1],
        "speed_real": report.speed,
        "speed_shuffled": report.shuffled_speed,
    }
    findings = []
    reference = report.constant_loss or report.losses[0]
    if not report.losses[-1] <= 0.5 * reference:
        message = "The model cannot fit one small batch."
        findings.append(("cannot_overfit_batch", message, evidence))
    if report.labels_aligned is False:
        message = "Real labels are fitted no faster than shuffled ones."
        findings.append(("labels_misaligned", message, evidence))
    return findings


def check_codes(name, codes):
    """`codes` as a tuple, or a `ValueError` naming the unknown ones."""
    unknown = [code for code in codes if code not in CODES]
    if unknown:
        fail(f"`{name}` must hold codes from {sorted(CODES)}.", name, unknown)
    return tuple(codes)


def thresholds(overrides):
    """`DEFAULT_THRESHOLDS` updated with `overrides` (a dict of known keys)."""
    overrides = check_type("thresholds", overrides or {}, dict, "a dict")
    unknown = sorted(set(overrides) - set(DEFAULT_THRESHOLDS))
    if unknown:
        known = sorted(DEFAULT_THRESHOLDS)
        fail(f"Unknown `thresholds` keys; known: {known}.", "thresholds", unknown)
    return {**DEFAULT_THRESHOLDS, **overrides}
