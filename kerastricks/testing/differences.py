"""How far a cell's training is from the reference: normalised differences, one number each."""

import numpy as np


def compare(reference, run) -> dict:
    """Weights over the reference's largest displacement, optimizer variables over their
    largest value, metrics and summary numbers relative to the reference's."""
    displacement = max(
        float(np.max(np.abs(f - i), initial=0.0))
        for f, i in zip(reference["weights"], reference["initial"], strict=True)
    )
    weights = largest_difference(reference["weights"], run["weights"]) / max(displacement, 1e-12)
    message = ""
    if len(reference["optimizer"]) != len(run["optimizer"]):
        optimizer = float("inf")
        message = f"{len(run['optimizer'])} optimizer variables, reference has " + str(
            len(reference["optimizer"])
        )
    else:
        scale = max(float(np.max(np.abs(v), initial=0.0)) for v in reference["optimizer"])
        optimizer = largest_difference(reference["optimizer"], run["optimizer"]) / max(scale, 1e-12)
    metrics = relative(reference["metrics"], run["metrics"])
    summary = relative(reference["summary"], run["summary"])
    return dict(
        weights=weights, optimizer=optimizer, metrics=metrics, summary=summary, message=message
    )


def largest_difference(a, b):
    if len(a) != len(b):
        return float("inf")
    return max(
        (float(np.max(np.abs(x - y), initial=0.0)) if x.shape == y.shape else float("inf"))
        for x, y in zip(a, b, strict=True)
    )


def relative(a: dict, b: dict) -> float:
    if sorted(a) != sorted(b):
        return float("inf")
    worst = 0.0
    for key in a:
        try:
            x, y = np.asarray(a[key], np.float64), np.asarray(b[key], np.float64)
        except (TypeError, ValueError):  # findings, names: equal or not
            if a[key] != b[key]:
                return float("inf")
            continue
        if x.shape != y.shape:
            return float("inf")
        worst = max(worst, float(np.max(np.abs(x - y) / np.maximum(np.abs(x), 1e-12), initial=0)))
    return worst
