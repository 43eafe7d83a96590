"""A callback that watches a run and says why the network learns nothing."""

import math

import keras
import numpy as np

from kerastricks._checks import check_int, fail
from kerastricks.callbacks import _doctor_rules as rules
from kerastricks.callbacks._doctor_log import FindingsLog
from kerastricks.callbacks._doctor_probe import (
    Probe,
    all_layers,
    balanced_class_loss,
    constant_loss,
    kernel_variables,
)
from kerastricks.callbacks._doctor_rules import CODES, Finding
from kerastricks.callbacks._doctor_trends import LossTrend, RateWatch
from kerastricks.callbacks._state import StepLosses, snapshot, unique_variables
from kerastricks.callbacks.overfit_one_batch import overfit_one_batch

__all__ = ["TrainingDoctor"]


class TrainingDoctor(keras.callbacks.Callback):
    """Watches `model.fit` and reports why a network learns nothing, with a fix.

    Each finding has a `code`, a message, the `evidence` (numbers) and a suggested `fix`;
    it is printed once, kept on `callback.findings`, counted in the epoch logs
    (`doctor_findings`, and `doctor_<code>` = 1, which `History`, `CSVLogger` and
    `TensorBoard` pick up), and, with `log_dir`, appended to `log_dir/doctor/findings.jsonl`
    and written as TensorBoard text (with the probe's numbers as scalars) when the
    `tensorboard` package is installed. Codes:

    - `loss_at_init`: the first loss is far above the loss of the best constant
      prediction (`log(C)` for balanced classes), or a one-hot classifier's outputs do
      not sum to one (sigmoid or linear outputs with a regression loss).
    - `not_learning`: after `window` steps the loss is not 5% below where it started,
      nor below the best constant prediction.
    - `non_finite`, `diverging`: the loss or weights became NaN or Inf; the smoothed loss
      rose above its start and `divergence_factor` times its best. Codes in `stop_on`
      stop training cleanly.
    - `lr_too_high`, `lr_too_low`: the median over layers of the per-step update ratio
      `|W_after - W_before| / |W_before|` is far from the usual 1e-3 (above 0.1 on two
      probes or above 1 on one; below 1e-5 on two probes while the loss does not fall).
    - `dead_units`: 70% or more of a ReLU layer's units are zero on the whole probe
      batch. `vanishing_gradients`: no kernel gets a gradient, or the smallest non-zero
      relative gradient `|dL/dW| / |W|` over layers is 1e-4 times the largest.
    - `batchnorm_not_updating`: a trainable batch normalization layer whose moving
      statistics did not move during a training step (called with `training=False`,
      momentum 1). `frozen_batchnorm_stats`: a frozen one whose statistics do not fit
      its inputs (mean off by more than one standard deviation, variance off 10x), or,
      without probe data, were never computed (still 0 and 1).
    - `labels_misaligned`, `cannot_overfit_batch`: at the start, the model is trained on
      the probe batch (weights restored after) with real and with shuffled labels, as
      `overfit_one_batch` does: real labels must be fitted clearly faster, and the loss
      must at least halve against the best constant prediction's.

    The cost is kept low by sampling: every `every` steps (and at step 0) the callback
    copies the kernels and batch-norm statistics before and after one step, and runs
    one forward and backward pass on the probe batch (whose side effects it undoes).
    Other steps only read the logged loss. `benchmarks/bench_doctor.py` measures the
    overhead. Activation checks need a Sequential or functional model; they look at its
    top-level layers.

    Reference:
        Karpathy, "A Recipe for Training Neural Networks" (2019) and CS231n notes
        ("babysitting the learning process": loss at init, update/weight ratio ~1e-3);
        Ioffe & Szegedy, "Batch Normalization" (ICML 2015).

    Args:
        probe_data: a small held batch `(x, y)` (16 to 128 examples, not used for
            training) for the gradient, activation, baseline and label checks; without
            it only the loss, update-ratio and batch-norm-update checks run. Defaults to
            `None`.
        every: probe every `every` steps. Defaults to 100.
        stop_on: codes that stop training when found. Defaults to `("non_finite",)`.
        check_labels: run the one-batch label probe at the start (needs `probe_data`).
            Defaults to `True`.
        thresholds: overrides of `DEFAULT_THRESHOLDS` (`window`, `min_improvement`,
            `init_loss_ratio`, `update_ratio_low`, `update_ratio_high`, `dead_fraction`,
            `vanishing_ratio`, `divergence_factor`, `bn_mismatch`, `label_probe_steps`).
            Defaults to `None`.
        log_dir: a folder (a TensorBoard log folder) for `doctor/findings.jsonl` and the
            TensorBoard summaries. Defaults to `None`.
        verbose: 1 prints findings when found, 0 keeps quiet. Defaults to 1.

    Raises:
        TypeError: `probe_data` is not a pair; `thresholds` is not a dict.
        ValueError: `every < 1`; unknown codes in `stop_on` or keys in `thresholds`; at
            the start of `fit`, `probe_data` that the model or its loss cannot take.

    Example:

    >>> import keras, numpy as np
    >>> import kerastricks as kt
    >>> keras.utils.set_random_seed(0)
    >>> x = np.random.default_rng(0).normal(size=(256, 8)).astype("float32")
    >>> y = (x[:, 0] > 0).astype("int32")
    >>> model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="relu"),
    ...                           keras.layers.Dense(2, activation="softmax")])
    >>> model.compile(keras.optimizers.SGD(1e-9), "sparse_categorical_crossentropy")
    >>> doctor = kt.callbacks.TrainingDoctor(every=20, thresholds={"window": 40}, verbose=0)
    >>> _ = model.fit(x, y, batch_size=16, epochs=3, callbacks=[doctor], verbose=0)
    >>> sorted({finding.code for finding in doctor.findings})
    ['lr_too_low', 'not_learning']
    """

    def __init__(
        self,
        probe_data=None,
        every: int = 100,
        stop_on=("non_finite",),
        check_labels: bool = True,
        thresholds=None,
        log_dir=None,
        verbose: int = 1,
    ):
        super().__init__()
        if probe_data is not None and (
            not isinstance(probe_data, (tuple, list)) or len(probe_data) != 2
        ):
            fail("`probe_data` must be a pair (x, y).", "probe_data", type(probe_data), TypeError)
        self.probe_data = probe_data
        self.every = check_int("every", every, minimum=1)
        self.stop_on = rules.check_codes("stop_on", stop_on)
        self.check_labels = bool(check_labels)
        self.thresholds = rules.thresholds(thresholds)
        self.log_dir = log_dir
        self.verbose = int(verbose)
        self.findings = []
        self.measurements = []

    # -- reporting -------------------------------------------------------------------

    def _report(self, code, message, evidence):
        if any(finding.code == code for finding in self.findings):
            return
        finding = Finding(code, message, dict(evidence), CODES[code], self._step)
        self.findings.append(finding)
        if self.verbose:
            print(str(finding), flush=True)
        self._log.finding(finding, self._step)
        if code in self.stop_on:
            self.model.stop_training = True

    # -- hooks -----------------------------------------------------------------------

    def on_train_begin(self, logs=None):
        model, t = self.model, self.thresholds
        self._step, self._step_losses, self._before = 0, StepLosses(), None
        self._trend = LossTrend(t["divergence_factor"])
        self._rates = RateWatch(t["update_ratio_low"], t["update_ratio_high"])
        self._kernels = kernel_variables(model)
        self._bns = [
            layer
            for layer in all_layers(model)
            if isinstance(layer, keras.layers.BatchNormalization)
        ]
        stats = [v for layer in self._bns for v in (layer.moving_mean, layer.moving_variance)]
        self._watched = unique_variables(self._kernels, stats)
        self._log = FindingsLog(self.log_dir)
        outputs = getattr(model, "outputs", None) or [None]
        classes = outputs[0].shape[-1] if len(outputs) == 1 and outputs[0] is not None else None
        self._probe = None
        if self.probe_data is None:
            self._baseline = balanced_class_loss(model, classes)
            self._check_frozen_bn({})
            return
        x, y = self.probe_data
        self._probe = Probe(model, x, y)
        self._baseline = constant_loss(model, y, classes)
        try:
            result = self._probe.run()
        except (ValueError, TypeError) as error:
            reason = str(error).strip().splitlines()[-1].strip()
            message = f"`probe_data` does not fit the model and its compiled loss: {reason}"
            fail(message, "probe_data", type(y).__name__)
        evidence = rules.init_evidence(
            result["loss"],
            self._baseline,
            t["init_loss_ratio"],
            np.asarray(y),
            result["prediction"],
        )
        if evidence:
            self._report("loss_at_init", "The loss before training is off.", evidence)
        self._check_probe(result)
        if self.check_labels:
            self._check_labels(x, y)

    def on_epoch_begin(self, epoch, logs=None):
        self._step_losses.new_epoch()

    def on_train_batch_begin(self, batch, logs=None):
        if self._step % self.every == 0:
            _ = self.model  # on JAX, Keras's `Callback.model` writes the state into variables
            self._before = snapshot(self._watched)

    def on_train_batch_end(self, batch, logs=None):
        if logs and "loss" in logs:
            self._check_loss(self._step_losses.update(batch, logs["loss"]))
        if self._before is not None:
            _ = self.model  # (as above: the variables hold this step's values)
            self._examine()
            self._before = None
        self._step += 1

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["doctor_findings"] = float(len(self.findings))
            for finding in self.findings:
                logs[f"doctor_{finding.code}"] = 1.0

    def on_train_end(self, logs=None):
        self._check_not_learning()
        self._log.flush()

    # -- checks ----------------------------------------------------------------------

    def _check_loss(self, loss):
        if not math.isfinite(loss):
            self._report("non_finite", "The training loss is not finite.", {"loss": loss})
            return
        if self._step == 0 and self._probe is None and self._baseline:
            ratio = self.thresholds["init_loss_ratio"]
            if loss > ratio * self._baseline:
                evidence = {"initial_loss": loss, "balanced_classes_loss": self._baseline}
                self._report("loss_at_init", "The first loss is off.", evidence)
        evidence = self._trend.update(loss, self._step_losses.values)
        if evidence:
            self._report("diverging", "The loss is growing.", evidence)

    def _examine(self):
        t = self.thresholds
        after = snapshot(self._watched)
        count = len(self._kernels)
        if not all(np.all(np.isfinite(a)) for a in after):
            self._report("non_finite", "Weights became NaN or Inf.", {"step": self._step})
            return
        names = [v.path for v in self._kernels]
        ratios = rules.update_ratios(names, self._before[:count], after[:count])
        median = float(np.median(list(ratios.values()))) if ratios else None
        self.measurements.append({"step": self._step, "median_update_ratio": median})
        has_gradient = True
        if self._probe is not None:
            result = self._probe.run(with_prediction=False)
            self.measurements[-1]["probe_loss"] = result["loss"]
            has_gradient = max(result["grad_norms"], default=0.0) > 0
            self._check_probe(result, after[:count])
        if median is not None:
            losses = self._step_losses.values
            for code, message, evidence in self._rates.update(median, ratios, losses, has_gradient):
                self._report(code, message, evidence)
        self._check_bn_updates(self._before[count:], after[count:])
        self._log.scalars(
            {k: v for k, v in self.measurements[-1].items() if k != "step"}, self._step
        )
        if self._step + 1 >= t["window"]:
            self._check_not_learning()

    def _check_probe(self, result, kernels=None):
        t = self.thresholds
        dead = {k: v for k, v in result["dead"].items() if v >= t["dead_fraction"]}
        if dead:
            self._report("dead_units", "ReLU units output zero for every example.", dead)
        kernels = kernels if kernels is not None else snapshot(self._kernels)
        evidence = rules.vanishing_evidence(
            [v.path for v in self._kernels],
            result["grad_norms"],
            [float(np.linalg.norm(k)) for k in kernels],
            t["vanishing_ratio"],
        )
        if evidence and result["loss"] > 0:
            self._report("vanishing_gradients", "Gradients do not reach some layers.", evidence)
        self._check_frozen_bn(result["bn"])

    def _check_frozen_bn(self, batch_stats):
        evidence = rules.frozen_bn_evidence(self._bns, batch_stats, self.thresholds["bn_mismatch"])
        if evidence:
            message = "Frozen batch normalization uses statistics that do not fit the data."
            self._report("frozen_batchnorm_stats", message, evidence)

    def _check_bn_updates(self, before, after):
        stuck = rules.stuck_bn_layers(self._bns, before, after)
        if stuck:
            message = "Moving statistics of trainable batch normalization did not change."
            self._report("batchnorm_not_updating", message, {"layers": stuck})

    def _check_not_learning(self):
        t = self.thresholds
        evidence = rules.not_learning_evidence(
            self._step_losses.values, self._baseline, t["window"], t["min_improvement"]
        )
        if evidence:
            self._report("not_learning", "The training loss has not fallen.", evidence)

    def _check_labels(self, x, y):
        steps = int(self.thresholds["label_probe_steps"])
        report = overfit_one_batch(self.model, x, y, steps=steps)
        for code, message, evidence in rules.label_findings(report):
            self._report(code, message, evidence)
