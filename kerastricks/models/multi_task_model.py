"""A functional model whose per-output losses are combined by a weighting scheme."""

import keras
from keras import ops

from kerastricks._checks import check_number, check_type, fail
from kerastricks._registry import register
from kerastricks.layers.uncertainty_weighting import UncertaintyWeighting
from kerastricks.models._multi_task_parts import (
    DynamicWeightAverage,
    DynamicWeightAverageCallback,
    check_task_types,
    infer_task_type,
    num_replicas,
    resolve_task_losses,
    validate_weighting,
)

__all__ = ["MultiTaskModel"]

_OWN_ARGUMENTS = (
    "weighting",
    "task_types",
    "init_log_variance",
    "log_variance_range",
    "temperature",
)


@register
class MultiTaskModel(keras.Model):
    """A model with named outputs whose task losses are weighted, fixed or learned.

    Built like a functional model, `MultiTaskModel(inputs, outputs)` with `outputs` a
    dict from task name to output tensor, and compiled with one loss per output,
    `loss={name: loss}`. Its `compute_loss` evaluates each output's loss and combines them
    according to `weighting`:

    - `"uncertainty"`: learned homoscedastic uncertainty (`kt.layers.UncertaintyWeighting`,
      Kendall et al. 2018); the model owns one trainable log-variance per task.
    - `"equal"`: the plain sum of the task losses (Keras's default for several outputs).
    - a dict `{name: weight}`: a fixed weighted sum, like Keras's `loss_weights`.
    - `"dwa"`: Dynamic Weight Average (Liu et al. 2019): after each `fit` epoch every
      task's weight becomes `K * softmax(r / temperature)` of `r`, the ratio of its mean
      training loss in the last two epochs, so tasks whose loss falls slowly get more.

    `fit` and `evaluate` report each task's mean loss (`"{name}_loss"`, unweighted) and,
    per task, `"{name}_sigma"` (for `"uncertainty"`, `exp(s / 2)`) or `"{name}_weight"`
    (the other schemes) as metrics: they show in the progress bar, the `History` and
    TensorBoard. The weighting is part of training only: `predict`, `model(x)` and a
    SavedModel export return just the named outputs. Regularization losses (`model.losses`)
    are added unweighted.

    `task_types` says which losses are `"classification"` (weight `exp(-s)`) and which
    `"regression"` (weight `0.5 * exp(-s)`); by default it is inferred at `compile` from
    each loss's name (a cross-entropy or hinge loss is classification).

    Reference:
        Kendall, Gal & Cipolla, "Multi-Task Learning Using Uncertainty to Weigh Losses for
        Scene Geometry and Semantics", CVPR 2018. Liu, Johns & Davison, "End-to-End
        Multi-Task Learning with Attention", CVPR 2019 (Dynamic Weight Average, eq. 5).

    Args:
        inputs: the model's input(s), as for a functional `keras.Model`.
        outputs: dict from task name to output tensor.
        weighting: `"uncertainty"`, `"equal"`, `"dwa"` or a dict of fixed weights `>= 0`
            for every output. Defaults to `"uncertainty"`.
        task_types: dict from output name to `"regression"` or `"classification"`, used
            by `"uncertainty"`. Defaults to `None` (inferred from the losses).
        init_log_variance: initial log-variance `s` of every task (a number, or a dict
            by task) for `"uncertainty"`. Defaults to `0.0`.
        log_variance_range: optional `(low, high)` bounds for every `s`. Defaults to
            `None`.
        temperature: the DWA softmax temperature `T > 0`. Defaults to `2.0` (the paper's).
        **kwargs: `name` and `trainable`.

    Call arguments:
        inputs: as for the functional model.

    Returns:
        When called: the dict of named outputs.

    Raises:
        TypeError: `outputs` is not a dict; `weighting` is neither a string nor a dict.
        ValueError: an unknown weighting name, fixed weights that miss or add outputs or
            are negative, a bad `task_types` or `temperature`; at `compile`, a loss that is
            not a dict with exactly the output names, or `loss_weights` (use `weighting`).

    Example:

    >>> import keras, numpy as np
    >>> import kerastricks as kt
    >>> inputs = keras.Input((4,))
    >>> shared = keras.layers.Dense(8, activation="relu")(inputs)
    >>> model = kt.models.MultiTaskModel(inputs, {
    ...     "size": keras.layers.Dense(1, name="size")(shared),
    ...     "kind": keras.layers.Dense(3, name="kind")(shared)})
    >>> model.compile(optimizer="adam", loss={
    ...     "size": "mse",
    ...     "kind": keras.losses.SparseCategoricalCrossentropy(from_logits=True)})
    >>> model.uncertainty_weighting.task_types  # inferred from the losses
    {'kind': 'classification', 'size': 'regression'}
    >>> x = np.random.default_rng(0).normal(size=(32, 4)).astype("float32")
    >>> y = {"size": x[:, :1], "kind": (x[:, 1] > 0).astype("int32")}
    >>> history = model.fit(x, y, epochs=1, verbose=0)
    >>> sorted(history.history)
    ['kind_loss', 'kind_sigma', 'loss', 'size_loss', 'size_sigma']
    """

    def __init__(
        self,
        inputs,
        outputs,
        weighting="uncertainty",
        task_types=None,
        init_log_variance=0.0,
        log_variance_range=None,
        temperature=2.0,
        **kwargs,
    ):
        check_type("outputs", outputs, dict, "a dict from task name to output tensor")
        if not outputs:
            fail("`outputs` must name at least one task.", "outputs", outputs)
        super().__init__(inputs=inputs, outputs=outputs, **kwargs)
        self.task_names = sorted(outputs)
        self.weighting = validate_weighting(weighting, self.task_names)
        self.task_types = check_task_types(task_types, self.task_names)
        self.init_log_variance = init_log_variance
        self.log_variance_range = log_variance_range
        self.temperature = check_number("temperature", temperature, 0.0, min_inclusive=False)
        self.uncertainty_weighting = None
        self.dynamic_weight_average = None
        if self.weighting == "uncertainty":
            self.uncertainty_weighting = UncertaintyWeighting(
                self.task_types or dict.fromkeys(self.task_names, "regression"),
                init_log_variance=init_log_variance,
                log_variance_range=log_variance_range,
                name="uncertainty_weighting",
            )
            self.uncertainty_weighting.build()
        elif self.weighting == "dwa":
            self.dynamic_weight_average = DynamicWeightAverage(
                self.task_names, self.temperature, name="dynamic_weight_average"
            )
        suffix = "sigma" if self.weighting == "uncertainty" else "weight"
        self.task_loss_trackers = [keras.metrics.Mean(name=f"{n}_loss") for n in self.task_names]
        self.task_weight_trackers = [
            keras.metrics.Mean(name=f"{n}_{suffix}") for n in self.task_names
        ]
        self._task_losses = None

    # -- compiling -----------------------------------------------------------------------

    def compile(self, optimizer="rmsprop", loss=None, loss_weights=None, **kwargs):
        """Configures training; `loss` is a dict with one loss per output name."""
        if loss_weights is not None:
            fail(
                "MultiTaskModel weighs its task losses itself: pass fixed weights as "
                "`weighting={name: weight}` when building the model, not `loss_weights`.",
                "loss_weights",
                loss_weights,
            )
        self._task_losses = resolve_task_losses(loss, self.task_names)
        if self.uncertainty_weighting is not None:
            inferred = {n: infer_task_type(loss[n]) for n in self.task_names}
            self.uncertainty_weighting.task_types = self.task_types or inferred
        # Keras's own multi-output loss is bypassed: `compute_loss` below replaces it.
        super().compile(optimizer=optimizer, loss=None, **kwargs)
        self.loss = loss

    def get_compile_config(self):
        config = super().get_compile_config()
        if config:
            config["loss"] = keras.saving.serialize_keras_object(self.loss)
        return config

    def compile_from_config(self, config):
        config = keras.saving.deserialize_keras_object(config)
        self.compile(**config)
        if self.optimizer is not None and self.built:
            self.optimizer.build(self.trainable_variables)

    # -- the loss --------------------------------------------------------------------

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        if self._task_losses is None:
            fail("Compile the model with `loss={name: loss}` first.", "loss", None)
        y = self._as_task_dict("y", y)
        weights = sample_weight
        if sample_weight is not None and not isinstance(sample_weight, dict):
            weights = dict.fromkeys(self.task_names, sample_weight)
        elif isinstance(sample_weight, dict):
            weights = self._as_task_dict("sample_weight", sample_weight)
        replicas = num_replicas()
        losses = {}
        for name, tracker in zip(self.task_names, self.task_loss_trackers, strict=True):
            value = self._task_losses[name](
                y[name], y_pred[name], None if weights is None else weights[name]
            )
            # Keras losses are divided by the replica count; undo it to combine them.
            value = ops.cast(value, "float32") * replicas
            tracker.update_state(value, sample_weight=ops.shape(y_pred[name])[0])
            losses[name] = value
        total = self._combine(losses)
        if self.losses:
            total = total + ops.cast(ops.sum(self.losses), "float32")
        return total / replicas

    def _combine(self, losses):
        trackers = self.task_weight_trackers
        if self.uncertainty_weighting is not None:
            total = self.uncertainty_weighting(losses)
            sigmas = self.uncertainty_weighting.sigmas()
            for name, tracker in zip(self.task_names, trackers, strict=True):
                tracker.update_state(sigmas[name])
            return total
        total = 0.0
        for name, tracker in zip(self.task_names, trackers, strict=True):
            if self.dynamic_weight_average is not None:
                weight = self.dynamic_weight_average.weight(name)
            elif self.weighting == "equal":
                weight = 1.0
            else:
                weight = self.weighting[name]
            tracker.update_state(weight)
            total = total + weight * losses[name]
        return total

    def _as_task_dict(self, what, values):
        if isinstance(values, list | tuple) and len(values) == len(self.task_names):
            values = dict(zip(self.output_names, values, strict=True))
        if not isinstance(values, dict) or set(values) != set(self.task_names):
            shown = sorted(values) if isinstance(values, dict) else type(values).__name__
            fail(
                f"`{what}` must be a dict with one entry per output ({self.task_names}).",
                what,
                shown,
            )
        return values

    def task_weights(self) -> dict:
        """Returns `{name: weight}`, the factor multiplying each task loss at this step."""
        if self.uncertainty_weighting is not None:
            weights = self.uncertainty_weighting.task_weights()
            return {n: float(ops.convert_to_numpy(weights[n])) for n in self.task_names}
        if self.dynamic_weight_average is not None:
            values = ops.convert_to_numpy(self.dynamic_weight_average.task_weights)
            return {n: float(v) for n, v in zip(self.task_names, values, strict=True)}
        if self.weighting == "equal":
            return dict.fromkeys(self.task_names, 1.0)
        return dict(self.weighting)

    # -- training hooks ----------------------------------------------------------------

    def fit(self, *args, **kwargs):
        if self.dynamic_weight_average is not None:
            if len(args) > 5:
                args = list(args)
                args[5] = list(args[5] or []) + [self._dwa_callback()]
            else:
                kwargs["callbacks"] = list(kwargs.get("callbacks") or []) + [self._dwa_callback()]
        return super().fit(*args, **kwargs)

    def _dwa_callback(self):
        return DynamicWeightAverageCallback(self.dynamic_weight_average)

    # -- serialization ---------------------------------------------------------------

    def get_config(self):
        graph = keras.Model(self.input, self.output, name=self.name)
        config = graph.get_config()
        config["trainable"] = self.trainable
        config.update(
            {
                "weighting": self.weighting,
                "task_types": self.task_types,
                "init_log_variance": self.init_log_variance,
                "log_variance_range": self.log_variance_range,
                "temperature": self.temperature,
            }
        )
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        own = {key: config.pop(key) for key in _OWN_ARGUMENTS if key in config}
        graph = keras.Model.from_config(config, custom_objects=custom_objects)
        return cls(
            graph.input,
            graph.output,
            name=config.get("name"),
            trainable=config.get("trainable", True),
            **own,
        )
