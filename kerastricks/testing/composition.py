"""The composition harness: one training, run on every path a user trains on, compared."""

import dataclasses
import os
import tempfile
import warnings

import keras
import numpy as np
import tensorflow as tf

from kerastricks._checks import check_type, fail
from kerastricks.callbacks._state import unscaled_optimizer
from kerastricks.distribute.multi_worker import is_chief
from kerastricks.testing.differences import compare
from kerastricks.testing.replicas import mirrored_strategy
from kerastricks.testing.skipped_steps import StepRecorder

__all__ = ["CELLS", "CellResult", "Workflow", "check_composition"]

CELLS = ("xla", "mirrored", "mirrored_xla", "mixed_float16", "save_resume", "two_workers")

# Tolerances, as the largest difference from the reference divided by the reference's
# largest weight displacement (final minus initial weights), so that they do not depend on
# the scale of the weights or on how far training moved them:
# - float32 paths (XLA, two replicas, save/resume) compute the same sums in another order
#   (XLA fusions; a two-term all-reduce of half-batch gradients): a few units of 2**-24
#   (6e-8) relative per operation, compounded over a few steps. On GPUs TensorFlow runs
#   float32 matmuls in TF32 by default (10-bit mantissa, 2**-11 = 4.9e-4 relative), so
#   the bound is 1e-3, two TF32 roundings. Measured on CPUs (docs/distribute.md): at most
#   7.9e-7.
# - mixed_float16 computes activations and gradients with 11-bit mantissas (2**-11 per
#   rounding) and hundreds of roundings feed each update; 5e-2 is a hundred such roundings
#   all in one direction. Measured: at most 2.8e-3.
TOLERANCES = {
    "xla": 1e-3,
    "mirrored": 1e-3,
    "mirrored_xla": 1e-3,
    "mixed_float16": 5e-2,
    "save_resume": 1e-3,
    "two_workers": 1e-3,
}


@dataclasses.dataclass
class Workflow:
    """A training to check: how to build it, the data, and what else to compare.

    Args:
        name: a label for reports.
        build: `build(cell) -> model`, a compiled model, created inside the scope the
            harness opens (a distribution strategy, a dtype policy). `cell` is the cell's
            name; pass `jit_compile=(cell in ("xla", "mirrored_xla"))` to `compile`, or
            use `compile_kwargs(cell)`.
        data: `(x, y)` or `(x, y, sample_weight)`, NumPy arrays or structures of them;
            the batch size must be a multiple of the number of replicas (2).
        epochs: epochs to train, at least 2 (save/resume saves after half).
        batch_size: the batch size.
        callbacks: `callbacks() -> list` of fresh callbacks for one `fit` call.
            Defaults to none.
        summary: `summary(model, callbacks) -> dict` of extra numbers that must agree
            across cells (a callback's findings, a suggested learning rate). Defaults to
            none.
        not_applicable: `{cell: reason}` for cells that do not apply (a learning-rate
            sweep is not resumable); they are reported `"n/a"` with the reason. Defaults
            to none.

    Example:

    >>> import keras, numpy as np
    >>> import kerastricks as kt
    >>> def build(cell):
    ...     model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    ...     model.compile("sgd", "mse", jit_compile=cell in ("xla", "mirrored_xla"))
    ...     return model
    >>> x = np.zeros((8, 3), "float32")
    >>> kt.testing.Workflow("linear", build, (x, x[:, :1]), epochs=2).batch_size
    8
    """

    name: str
    build: callable
    data: tuple
    epochs: int = 2
    batch_size: int = 8
    callbacks: callable = list
    summary: callable = None
    not_applicable: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class CellResult:
    """How one cell compared with the reference.

    Attributes:
        cell: the cell's name.
        status: `"pass"`, `"fail"` (a difference above the tolerance), `"error"` (it
            raised), `"unsupported"` (TensorFlow cannot run it on these devices),
            `"n/a"` (the workflow says the cell does not apply) or `"worker"` (the
            `two_workers` cell on a worker that is not the chief: it trains its share,
            the chief compares).
        weights: largest weight difference over the reference's largest displacement.
        optimizer: the same for the optimizer's variables (over their largest value).
        metrics: largest relative difference of the logged metrics, last epoch.
        summary: largest relative difference of `Workflow.summary`'s numbers.
        tolerance: the bound applied.
        message: what went wrong, if anything.

    Example:

    >>> import kerastricks as kt
    >>> result = kt.testing.CellResult("xla", "pass", weights=2e-7, optimizer=1e-9,
    ...                                metrics=0.0, summary=0.0, tolerance=1e-3)
    >>> result.largest
    2e-07
    """

    cell: str
    status: str
    weights: float = float("nan")
    optimizer: float = float("nan")
    metrics: float = float("nan")
    summary: float = float("nan")
    tolerance: float = float("nan")
    message: str = ""

    @property
    def largest(self) -> float:
        return max(v for v in (self.weights, self.optimizer, self.metrics, self.summary)
                   if v == v) if self.status in ("pass", "fail") else float("nan")  # fmt: skip


def check_composition(
    workflow: Workflow, cells=None, tolerances=None, strategy=None, workers=None
) -> list:
    """Trains `workflow` on one device in float32 and on every cell; compares them.

    Cells: `"xla"` (`jit_compile=True`), `"mirrored"` (two replicas, the default
    all-reduce), `"mirrored_xla"` (both; TensorFlow cannot compile a step placed on two
    logical CPUs, so on a CPU-only machine it is reported `"unsupported"`, tried once per
    process: later workflows report the first one's error without training),
    `"mixed_float16"` (the dtype policy), `"save_resume"` (saved to `.keras` after half
    the epochs, reloaded with `safe_mode=True` and fresh callbacks, trained on with
    `initial_epoch`), `"two_workers"` (`workers`, a multi-worker strategy: this process
    is one worker of a cluster that runs the same script; see `kt.testing.run_workers`).
    Weights, optimizer variables, logged metrics and the workflow's
    summary are compared with the reference; see `TOLERANCES` for the bounds and why.

    Args:
        workflow: the `Workflow`.
        cells: the cells to run. Defaults to every cell but `"two_workers"`, and that one
            too when `workers` is given.
        tolerances: a dict overriding entries of `TOLERANCES`. Defaults to none.
        strategy: the `tf.distribute` strategy of the mirrored cells. Defaults to
            `mirrored_strategy()`.
        workers: the `kt.distribute.MultiWorkerMirroredStrategy` of the `"two_workers"`
            cell, created at the start of the worker's program (`kt.distribute.strategy()`
            reads the cluster from `TF_CONFIG`). Defaults to `None`: that cell reports
            `"unsupported"`.

    Returns:
        A list of `CellResult`, one per cell.

    Example:

    >>> import keras, numpy as np
    >>> import kerastricks as kt
    >>> def build(cell):
    ...     keras.utils.set_random_seed(0)
    ...     model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    ...     model.compile("adam", "mse", jit_compile=cell in ("xla", "mirrored_xla"))
    ...     return model
    >>> x = np.random.default_rng(0).normal(size=(16, 3)).astype("float32")
    >>> flow = kt.testing.Workflow("dense", build, (x, x[:, :2]), epochs=2)
    >>> [r.status for r in kt.testing.check_composition(flow, cells=["xla", "save_resume"])]
    ['pass', 'pass']
    """
    check_type("workflow", workflow, Workflow, "a kt.testing.Workflow")
    if cells is None:
        cells = [cell for cell in CELLS if cell != "two_workers" or workers is not None]
    unknown = [cell for cell in cells if cell not in CELLS]
    if unknown:
        fail(f"Cells are {list(CELLS)}.", "cells", unknown)
    bounds = {**TOLERANCES, **(tolerances or {})}
    strategy = strategy or mirrored_strategy
    reference = []  # trained when a cell first needs it
    results = []
    for cell in cells:
        if cell in workflow.not_applicable:
            results.append(CellResult(cell, "n/a", message=workflow.not_applicable[cell]))
            continue
        if cell in _MACHINE_LIMITS:
            results.append(CellResult(cell, "unsupported", message=_MACHINE_LIMITS[cell]))
            continue
        if cell == "two_workers" and workers is None:
            message = "needs worker processes (kt.testing.run_workers) and workers=strategy"
            results.append(CellResult(cell, "unsupported", message=message))
            continue
        try:
            run = _run(workflow, cell, strategy=workers if cell == "two_workers" else strategy)
            if cell == "two_workers" and not is_chief(workers):
                results.append(CellResult(cell, "worker", message="the chief compares"))
                continue
            reference = reference or [_run(workflow, "reference")]
            against = reference[0]
            if run["skipped"]:  # the loss scale skipped steps: skip them in float32 too
                against = _run(workflow, "reference", skip=run["skipped"])
        except Exception as error:  # a cell that breaks is a result, not a crash
            status = "unsupported" if _unsupported(cell, error) else "error"
            results.append(CellResult(cell, status, message=_first_line(error)))
            if status == "unsupported":
                _MACHINE_LIMITS[cell] = f"as for {workflow.name!r}: {_first_line(error)}"
            continue
        differences = compare(against, run)
        worst = max(differences[k] for k in ("weights", "optimizer", "metrics", "summary"))
        status = "pass" if worst <= bounds[cell] else "fail"
        result = CellResult(cell, status, tolerance=bounds[cell], **differences)
        if run["skipped"]:
            result.message = f"loss scaling skipped steps {run['skipped']} (so did the reference)"
        results.append(result)
    return results


# Cells this machine cannot run whatever the model (XLA on several logical CPUs): found once
# per process, by the first workflow that tries; a model to trace costs up to a minute.
_MACHINE_LIMITS = {}


def _run(workflow, cell, skip=(), strategy=None):
    policy = "mixed_float16" if cell == "mixed_float16" else "float32"
    previous = keras.config.dtype_policy().name
    keras.config.set_dtype_policy(policy)
    try:
        if cell.startswith("mirrored") or cell == "two_workers":
            strategy = strategy() if callable(strategy) else strategy
            with strategy.scope():
                return _train(workflow, cell, skip)
        return _train(workflow, cell, skip)
    finally:
        keras.config.set_dtype_policy(previous)


def _train(workflow, cell, skip):
    x, y, *weights = workflow.data
    model = workflow.build(cell)
    initial = [np.array(v.numpy(), np.float64) for v in model.weights]
    steps = StepRecorder(skip)
    fit = dict(batch_size=workflow.batch_size, verbose=0, shuffle=False)
    if weights:
        fit["sample_weight"] = weights[0]
    callbacks = workflow.callbacks() + [steps]
    if cell == "save_resume":
        half = workflow.epochs // 2
        model.fit(x, y, epochs=half, callbacks=callbacks, **fit)
        with tempfile.TemporaryDirectory() as folder:
            path = os.path.join(folder, "model.keras")
            model.save(path)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                model = keras.saving.load_model(path, safe_mode=True)
        skipped = [str(w.message) for w in caught if "Skipping variable" in str(w.message)]
        if skipped:
            raise RuntimeError(f"optimizer state was dropped on reload: {skipped[0]}")
        callbacks = workflow.callbacks() + [steps]
        history = model.fit(x, y, initial_epoch=half, epochs=workflow.epochs, callbacks=callbacks,
                            **fit)  # fmt: skip
    else:
        history = model.fit(x, y, epochs=workflow.epochs, callbacks=callbacks, **fit)
    return {
        "initial": initial,
        "weights": [np.array(v.numpy(), np.float64) for v in model.weights],
        "optimizer": [
            np.array(v.numpy(), np.float64) for v in unscaled_optimizer(model.optimizer).variables
        ],
        "metrics": {k: float(v[-1]) for k, v in history.history.items()},
        "summary": workflow.summary(model, callbacks[:-1]) if workflow.summary else {},
        "skipped": steps.skipped,
    }


def _unsupported(cell, error):
    on_cpu = len(tf.config.list_logical_devices("GPU")) < 2
    return cell == "mirrored_xla" and on_cpu and isinstance(error, tf.errors.OpError)


def _first_line(error):
    text = f"{type(error).__name__}: {error}".strip().splitlines()
    return text[0][:300] if text else type(error).__name__
