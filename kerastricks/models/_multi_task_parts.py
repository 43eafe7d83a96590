"""Private parts of `MultiTaskModel`: argument checks, loss resolution, DWA weights."""

import math

import keras
import numpy as np
from keras import ops

from kerastricks._checks import check_choice, check_keys, check_number, check_type, fail
from kerastricks.losses._round_trip import check_loss_round_trip

WEIGHTINGS = ("uncertainty", "equal", "dwa")


def validate_weighting(weighting, task_names):
    """Returns `weighting` checked: a known name, or a dict of fixed weights for every task."""
    if isinstance(weighting, str):
        if weighting not in WEIGHTINGS:
            fail(
                "`weighting` must be 'uncertainty', 'equal', 'dwa' or a dict of fixed "
                "weights keyed by output name.",
                "weighting",
                weighting,
            )
        return weighting
    check_type("weighting", weighting, dict, "a string ('uncertainty', 'equal', 'dwa') or a dict")
    check_keys("weighting", weighting, task_names, "one fixed weight per output")
    return {name: check_number(f"weighting[{name!r}]", weighting[name], 0.0) for name in task_names}


class DynamicWeightAverage(keras.layers.Layer):
    """Task weights from the rate at which each task's loss falls (Liu et al. 2019).

    `w_k = K * softmax_k(r_k / temperature)` with `r_k = L_k(t-1) / L_k(t-2)` the ratio of
    task k's mean training loss over the last two epochs; every weight is 1 for the first
    two epochs. The weights live in a non-trainable variable updated by `update(...)`
    between epochs (eagerly), and are read by the compiled train step.
    """

    def __init__(self, task_names, temperature=2.0, **kwargs):
        super().__init__(**kwargs)
        self.task_names = list(task_names)
        self.temperature = temperature
        count = len(self.task_names)
        self.task_weights = self.add_weight(
            shape=(count,), initializer="ones", trainable=False, name="task_weights"
        )
        self.previous_losses = self.add_weight(
            shape=(2, count), initializer="zeros", trainable=False, name="previous_losses"
        )
        self.epochs_seen = self.add_weight(
            shape=(), initializer="zeros", trainable=False, name="epochs_seen"
        )
        self.built = True

    def weight(self, name):
        return self.task_weights[self.task_names.index(name)]

    def update(self, epoch_losses):
        """Records one epoch's mean task losses and recomputes the weights."""
        latest = np.array([float(epoch_losses[name]) for name in self.task_names])
        if not np.all(np.isfinite(latest)):
            return
        history = ops.convert_to_numpy(self.previous_losses)
        seen = float(ops.convert_to_numpy(self.epochs_seen)) + 1.0
        history = np.stack([latest, history[0]])
        self.previous_losses.assign(history.astype("float32"))
        self.epochs_seen.assign(seen)
        if seen >= 2:
            ratio = history[0] / np.maximum(history[1], 1e-12)
            logits = ratio / self.temperature
            logits = logits - logits.max()
            weights = len(latest) * np.exp(logits) / np.exp(logits).sum()
            self.task_weights.assign(weights.astype("float32"))

    def call(self, inputs):
        return inputs


class DynamicWeightAverageCallback(keras.callbacks.Callback):
    """Feeds each epoch's mean training task losses from the logs to the DWA weights."""

    def __init__(self, dwa):
        super().__init__()
        self.dwa = dwa

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        losses = {name: logs.get(f"{name}_loss", math.nan) for name in self.dwa.task_names}
        self.dwa.update(losses)


class LossFunction(keras.losses.Loss):
    """A loss function (such as `keras.losses.get("mse")`) reduced over the batch."""

    def __init__(self, fn):
        super().__init__(name=getattr(fn, "__name__", None))
        self.fn = fn

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred)


def check_task_types(task_types, task_names):
    if task_types is None:
        return None
    check_type("task_types", task_types, dict, "a dict from output name to task type")
    check_keys("task_types", task_types, task_names, "one type per output")
    for name, task_type in task_types.items():
        check_choice(f"task_types[{name!r}]", task_type, ("regression", "classification"))
    return dict(task_types)


def infer_task_type(loss):
    if isinstance(loss, str):
        name = loss
    else:
        name = getattr(loss, "name", None) or getattr(loss, "__name__", "")
        name = f"{name} {type(loss).__name__}"
    name = name.lower()
    return "classification" if "crossentropy" in name or "hinge" in name else "regression"


def resolve_task_losses(loss, task_names):
    """`{name: keras.losses.Loss}` from `compile`'s `loss`: one loss (name, function or
    `Loss`) per output name, each of which survives the compile config's round trip."""
    check_type("loss", loss, dict, "a dict with one loss per output name")
    check_keys("loss", loss, task_names, "one loss per output")
    resolved = {}
    for name in task_names:
        item = keras.losses.get(loss[name]) if isinstance(loss[name], str) else loss[name]
        if not isinstance(item, keras.losses.Loss):
            if not callable(item):
                fail(f"`loss[{name!r}]` is not a loss.", f"loss[{name!r}]", loss[name])
            item = LossFunction(item)
        check_loss_round_trip(f"loss[{name!r}]", item)  # saved in the compile config
        resolved[name] = item
    return resolved


def num_replicas():
    """The replicas of the `tf.distribute` strategy in scope (TensorFlow backend), else 1."""
    if keras.backend.backend() != "tensorflow":
        return 1
    import tensorflow as tf

    return tf.distribute.get_strategy().num_replicas_in_sync
