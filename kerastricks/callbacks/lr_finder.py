"""The learning-rate range test: a short run with an exponentially growing rate."""

import math

import keras
import numpy as np

from kerastricks._checks import check_int, check_number, fail
from kerastricks.callbacks._state import StepLosses, restore, snapshot, unique_variables

__all__ = ["LRFinder"]


class LRFinder(keras.callbacks.Callback):
    """Finds a learning rate by training briefly with a rate that grows each step.

    Step `k` of `steps` trains with the rate
    `min_learning_rate * (max_learning_rate / min_learning_rate) ** (k / (steps - 1))`.
    The loss of each step is recorded, smoothed with a bias-corrected exponential moving
    average (`smoothing`), and the run stops when the smoothed loss exceeds `stop_factor`
    times its best, becomes NaN, or after `steps` steps. Then the model's weights,
    batch-norm statistics, random states, the optimizer's state (moments, iteration count)
    and its learning rate are put back exactly, so the finder leaves no trace.

    The suggestion, `suggested_learning_rate`, is the rate at the smoothed loss's minimum
    divided by 10: a rate where the loss still falls fast, safely below where training
    becomes unstable. `steepest_learning_rate` (where the smoothed loss falls fastest
    against the log of the rate) is kept too. Call `plot(path)` for the curve, or pass
    `plot_path`.

    Use it with a plain rate (not a `LearningRateSchedule`) and enough data: pass
    `epochs` large enough for `steps` batches; the finder stops the run itself.

    Reference:
        Smith, "Cyclical Learning Rates for Training Neural Networks" (WACV 2017),
        Section 3.3, "How can one estimate reasonable minimum and maximum boundary values?"
        (the LR range test); smoothing and stopping as in fastai's `lr_find`.

    Args:
        min_learning_rate: the first rate. Defaults to `1e-7`.
        max_learning_rate: the last rate. Defaults to `10.0`.
        steps: steps from the first to the last rate. Defaults to 100.
        smoothing: the moving average's factor in `[0, 1)`. Defaults to `0.98`.
        stop_factor: stop once the smoothed loss exceeds this times its best. Defaults
            to 4.
        plot_path: if set, a PNG of loss against rate is saved there after the run.
            Defaults to `None`.
        verbose: 1 prints the suggestion. Defaults to 1.

    Raises:
        ValueError: rates not positive or not increasing; `steps < 5`; `smoothing`
            outside `[0, 1)`; `stop_factor <= 1`; in `fit`, an optimizer whose rate is a
            schedule.

    Example:

    >>> import keras, numpy as np
    >>> import kerastricks as kt
    >>> keras.utils.set_random_seed(0)
    >>> x = np.random.default_rng(0).normal(size=(512, 4)).astype("float32")
    >>> y = x @ np.array([1.0, -2.0, 0.5, 3.0], "float32")
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    >>> model.compile(keras.optimizers.SGD(0.01), "mse")
    >>> finder = kt.callbacks.LRFinder(1e-5, 10.0, steps=60, verbose=0)
    >>> _ = model.fit(x, y, batch_size=32, epochs=10, callbacks=[finder], verbose=0)
    >>> 1e-2 < finder.suggested_learning_rate < 1.0
    True
    >>> float(model.optimizer.learning_rate)  # put back
    0.01
    """

    def __init__(
        self,
        min_learning_rate: float = 1e-7,
        max_learning_rate: float = 10.0,
        steps: int = 100,
        smoothing: float = 0.98,
        stop_factor: float = 4.0,
        plot_path=None,
        verbose: int = 1,
    ):
        super().__init__()
        self.min_learning_rate = check_number(
            "min_learning_rate", min_learning_rate, minimum=0, min_inclusive=False
        )
        self.max_learning_rate = check_number(
            "max_learning_rate", max_learning_rate, minimum=0, min_inclusive=False
        )
        if self.max_learning_rate <= self.min_learning_rate:
            fail(
                "`max_learning_rate` must be larger than `min_learning_rate`.",
                "max_learning_rate",
                max_learning_rate,
            )
        self.steps = check_int("steps", steps, minimum=5)
        self.smoothing = check_number("smoothing", smoothing, 0.0, 1.0, max_inclusive=False)
        self.stop_factor = check_number("stop_factor", stop_factor, minimum=1, min_inclusive=False)
        self.plot_path = plot_path
        self.verbose = int(verbose)
        self.learning_rates, self.losses, self.smoothed_losses = [], [], []
        self.suggested_learning_rate = None
        self.steepest_learning_rate = None

    def rate_at(self, step: int) -> float:
        """The learning rate of step `step` of the test."""
        ratio = self.max_learning_rate / self.min_learning_rate
        return self.min_learning_rate * ratio ** (step / (self.steps - 1))

    def on_train_begin(self, logs=None):
        optimizer = self.model.optimizer
        self._original_rate = float(keras.ops.convert_to_numpy(optimizer.learning_rate))
        try:
            optimizer.learning_rate = self.rate_at(0)
        except TypeError as error:
            fail(
                "LRFinder needs an optimizer with a plain learning rate, not a schedule; "
                f"compile with a float rate for the range test ({error}).",
                "optimizer",
                optimizer.name,
            )
        self._watched_variables = unique_variables(
            self.model.variables,
            optimizer.variables,
            [v for m in self.model.metrics for v in m.variables],
        )
        self._saved = snapshot(self._watched_variables)
        self._step_losses, self._average, self._best = StepLosses(), 0.0, math.inf
        self.learning_rates, self.losses, self.smoothed_losses = [], [], []

    def on_epoch_begin(self, epoch, logs=None):
        self._step_losses.new_epoch()

    def on_train_batch_begin(self, batch, logs=None):
        self.model.optimizer.learning_rate = self.rate_at(len(self.losses))

    def on_train_batch_end(self, batch, logs=None):
        loss = self._step_losses.update(batch, (logs or {}).get("loss", math.nan))
        step = len(self.losses)
        self.learning_rates.append(self.rate_at(step))
        self.losses.append(loss)
        self._average = self.smoothing * self._average + (1 - self.smoothing) * loss
        smoothed = self._average / (1 - self.smoothing ** (step + 1))
        self.smoothed_losses.append(smoothed)
        if math.isfinite(smoothed):
            self._best = min(self._best, smoothed)
        blown = not math.isfinite(smoothed) or (
            step > 5 and smoothed > self.stop_factor * self._best
        )
        if blown or step + 1 >= self.steps:
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        restore(self._watched_variables, self._saved)
        self.model.optimizer.learning_rate = self._original_rate
        self._suggest()
        if self.plot_path is not None:
            self.plot(self.plot_path)
        if self.verbose and self.suggested_learning_rate is not None:
            print(
                f"LRFinder: suggested learning rate {self.suggested_learning_rate:.3g} "
                f"(loss minimum at {10 * self.suggested_learning_rate:.3g}, "
                f"steepest fall at {self.steepest_learning_rate:.3g})",
                flush=True,
            )

    def _suggest(self):
        smoothed = np.asarray(self.smoothed_losses, "float64")
        finite = np.isfinite(smoothed)
        if finite.sum() < 3:
            return
        rates = np.asarray(self.learning_rates)[finite]
        smoothed = smoothed[finite]
        lowest = int(np.argmin(smoothed))
        self.suggested_learning_rate = float(rates[lowest] / 10)
        slopes = np.gradient(smoothed[: lowest + 1], np.log(rates[: lowest + 1])) if lowest else [0]
        self.steepest_learning_rate = float(rates[int(np.argmin(slopes))])

    def plot(self, path):
        """Saves loss (raw and smoothed) against learning rate, log scale, as a PNG."""
        from matplotlib.figure import Figure  # no pyplot: the user's backend is left alone

        figure = Figure(figsize=(6, 4))
        axes = figure.subplots()
        axes.plot(self.learning_rates, self.losses, color="0.75", label="loss")
        axes.plot(self.learning_rates, self.smoothed_losses, label="smoothed loss")
        if self.suggested_learning_rate is not None:
            axes.axvline(
                self.suggested_learning_rate,
                color="C3",
                linestyle="--",
                label=f"suggested {self.suggested_learning_rate:.2g}",
            )
        finite = [v for v in self.smoothed_losses if math.isfinite(v)]
        if finite:
            axes.set_ylim(min(finite) - 0.05 * abs(min(finite)), 1.5 * finite[0] + 1e-12)
        axes.set_xscale("log")
        axes.set_xlabel("learning rate")
        axes.set_ylabel("training loss")
        axes.set_title("Learning-rate range test (Smith 2017)")
        axes.legend()
        figure.tight_layout()
        figure.savefig(path, dpi=100)
