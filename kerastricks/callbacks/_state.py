"""Helpers shared by the diagnostic callbacks: variable snapshots and per-step losses."""

import math

import keras
import numpy as np

__all__ = ["StepLosses", "restore", "snapshot", "unique_variables", "unscaled_optimizer"]


def unique_variables(*groups):
    """Concatenates lists of variables, dropping repeats (by identity), keeping order."""
    seen, result = set(), []
    for group in groups:
        for variable in group:
            if id(variable) not in seen:
                seen.add(id(variable))
                result.append(variable)
    return result


def snapshot(variables) -> list:
    """Copies the current values of `variables` to NumPy arrays."""
    return [np.array(variable.numpy(), copy=True) for variable in variables]


def restore(variables, values) -> None:
    """Assigns the `values` of `snapshot` back to `variables`, bit for bit."""
    for variable, value in zip(variables, values, strict=True):
        variable.assign(value)


def unscaled_optimizer(optimizer):
    """The optimizer inside Keras's loss scaling (`mixed_float16` wraps the compiled one).

    Stops there: a `LearningRateMultiplier` is the optimizer whose learning rate and state
    drive training, not its inner template.
    """
    while isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
        optimizer = optimizer.inner_optimizer
    return optimizer


class StepLosses:
    """Recovers the loss of each training step from Keras's running epoch mean.

    `model.fit` logs, after batch `b` of an epoch, the mean loss of batches `0..b`; the
    loss of the steps since the previous call is `(mean_b (b + 1) - mean_a (a + 1)) / (b - a)`.
    Call `new_epoch()` at the start of every epoch (Keras resets its metrics there).
    """

    def __init__(self):
        self.values = []
        self.new_epoch()

    def new_epoch(self):
        self._count = 0
        self._total = 0.0

    def update(self, batch: int, mean_loss) -> float:
        """Records the loss logged after `batch`; returns the loss of the latest step(s)."""
        count = int(batch) + 1
        mean_loss = float(mean_loss)
        if not math.isfinite(mean_loss):
            self._count, self._total = count, mean_loss
            self.values.append(mean_loss)
            return mean_loss
        total = mean_loss * count
        steps = max(count - self._count, 1)
        if math.isfinite(self._total):
            value = (total - self._total) / steps
        else:
            value = mean_loss
        self._count, self._total = count, total
        self.values.extend([value] * steps)
        return value
