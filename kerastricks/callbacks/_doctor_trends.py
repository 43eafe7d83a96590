"""What `TrainingDoctor` follows from step to step: the smoothed loss and the update sizes."""

import math

import numpy as np

__all__ = ["LossTrend", "RateWatch"]


class LossTrend:
    """The loss smoothed over steps (EMA, 0.9), to tell a diverging run.

    A run diverges when the smoothed loss is above both `factor` times its best and the
    mean loss of the first ten steps.
    """

    def __init__(self, factor):
        self.factor, self.smoothed, self.best, self.start = factor, None, math.inf, None

    def update(self, loss, values):
        """Adds one step's `loss` (`values`: all step losses); returns evidence or `None`."""
        self.smoothed = loss if self.smoothed is None else 0.9 * self.smoothed + 0.1 * loss
        self.best = min(self.best, self.smoothed)
        if len(values) <= 10:
            return None
        if self.start is None:  # the mean of the first ten steps' losses
            self.start = float(np.mean(values[:10]))
        if self.smoothed > self.factor * self.best and self.smoothed > self.start:
            return {"smoothed_loss": self.smoothed, "best_smoothed_loss": self.best}
        return None


class RateWatch:
    """Counts consecutive probes whose median update ratio `|dW| / |W|` is out of range.

    `lr_too_high`: above `high` on two probes in a row, or above 10 x `high` once.
    `lr_too_low`: below `low` on two probes in a row while the loss does not fall (the
    mean of the last ten step losses above 0.9 times the first ten's) and gradients
    reach the kernels.
    """

    def __init__(self, low, high):
        self.low, self.high, self.lows, self.highs = low, high, 0, 0

    def update(self, median, ratios, losses, has_gradient):
        """Returns `(code, message, evidence)` findings for one probe's `ratios`."""
        self.highs = self.highs + 1 if median > self.high else 0
        self.lows = self.lows + 1 if median < self.low else 0
        evidence = {"median_update_ratio": median, "healthy": 1e-3}
        worst = max(ratios, key=ratios.get) if self.highs else min(ratios, key=ratios.get)
        evidence[f"{'largest' if self.highs else 'smallest'}_layer"] = worst
        evidence["its_ratio"] = ratios[worst]
        findings = []
        if self.highs >= 2 or median > 10 * self.high:
            message = "Each update changes the weights too much."
            findings.append(("lr_too_high", message, evidence))
        stuck = len(losses) < 2 or np.mean(losses[-10:]) > 0.9 * np.mean(losses[:10])
        if self.lows >= 2 and stuck and has_gradient:
            message = "Each update barely changes the weights."
            findings.append(("lr_too_low", message, evidence))
        return findings
