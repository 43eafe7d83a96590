"""What `TrainingDoctor` measures: a gradient and activation probe, and loss baselines.

The probe runs one forward and backward pass of the model on a held batch (in training
mode, as `fit` does) and returns, per layer, the gradient norm of each kernel, the
fraction of ReLU units that are zero for every example, and the batch statistics of the
inputs of each batch normalization layer. Everything the pass changes as a side effect
(moving statistics, random seed states, the loss metrics of a multi-output model) is put
back afterwards, so that a run with the probe trains exactly as a run without it.
"""

import math

import keras
import numpy as np
from keras import ops

from kerastricks.callbacks._gradient_pass import gradient_pass
from kerastricks.callbacks._state import restore, snapshot, unique_variables

__all__ = [
    "Probe",
    "all_layers",
    "balanced_class_loss",
    "constant_loss",
    "kernel_variables",
    "loss_kind",
]


def all_layers(layer, _seen=None):
    """Every layer under `layer`, in order: a model's `layers`, and the layers a custom
    layer keeps as attributes (directly or in lists), walked down recursively."""
    seen = set() if _seen is None else _seen
    if isinstance(layer, keras.Model):
        children = list(layer.layers)
    else:
        children = []
        for value in vars(layer).values():
            values = value if isinstance(value, (list, tuple)) else [value]
            children.extend(v for v in values if isinstance(v, keras.layers.Layer))
    result = []
    for child in children:
        if id(child) not in seen:
            seen.add(id(child))
            result.append(child)
            result.extend(all_layers(child, seen))
    return result


def kernel_variables(model):
    """The trainable weight matrices and filters (rank >= 2) of `model`."""
    return [v for v in model.trainable_variables if len(v.shape) >= 2]


def _is_relu(layer):
    if isinstance(layer, keras.layers.ReLU):
        return not layer.negative_slope and layer.threshold == 0
    return getattr(layer, "activation", None) is keras.activations.relu


def _graph(model):
    """The symbolic inputs and outputs of a Sequential or functional model, else `None`."""
    inputs, outputs = getattr(model, "inputs", None), getattr(model, "outputs", None)
    if not inputs or not outputs:
        return None
    if isinstance(model, keras.Sequential):
        return inputs[0], outputs[0]
    return model.input, model.output


def _tap(layers, attribute):
    tapped = []
    for layer in layers:
        try:
            tapped.append((layer, getattr(layer, attribute)))
        except (AttributeError, ValueError):  # shared layers have no single output
            continue
    return tapped


class Probe:
    """One gradient and activation pass of `model` on `(x, y)`; see the module docstring."""

    def __init__(self, model, x, y):
        self.model = model
        self.x = keras.tree.map_structure(ops.convert_to_tensor, x)
        self.y = keras.tree.map_structure(ops.convert_to_tensor, y)
        self.kernels = kernel_variables(model)
        graph = _graph(model)
        self.relu_layers, self.bn_layers, self._extractor = [], [], None
        if graph is not None:
            relus = _tap([layer for layer in model.layers if _is_relu(layer)], "output")
            bns = _tap(
                [
                    layer
                    for layer in model.layers
                    if isinstance(layer, keras.layers.BatchNormalization)
                ],
                "input",
            )
            self.relu_layers = [layer for layer, _ in relus]
            self.bn_layers = [layer for layer, _ in bns]
            self._extractor = keras.Model(
                graph[0],
                {
                    "prediction": graph[1],
                    "relu": [t for _, t in relus],
                    "bn": [t for _, t in bns],
                },
            )
        self._side_effects = unique_variables(
            model.non_trainable_variables, [v for m in model.metrics for v in m.variables]
        )
        kernel_ids = {id(v) for v in self.kernels}
        self._kernel_index = [
            i for i, v in enumerate(model.trainable_variables) if id(v) in kernel_ids
        ]
        self._function = gradient_pass(model, self._forward, self._finish)

    def _forward(self, x, y):
        if self._extractor is None:
            prediction, relu, bn = self.model(x, training=True), [], []
        else:
            outputs = self._extractor(x, training=True)
            prediction, relu, bn = outputs["prediction"], outputs["relu"], outputs["bn"]
        loss = self.model.compute_loss(x=x, y=y, y_pred=prediction)
        return loss, (prediction, relu, bn)

    def _finish(self, loss, gradients, aux):
        prediction, relu, bn = aux
        gradients = [gradients[i] for i in self._kernel_index]
        grad_norms = [
            ops.zeros(()) if g is None else ops.sqrt(ops.sum(ops.square(ops.cast(g, "float32"))))
            for g in gradients
        ]
        dead = []
        for activation in relu:
            axes = list(range(len(activation.shape) - 1))
            alive = ops.any(activation > 0, axis=axes)
            dead.append(1.0 - ops.mean(ops.cast(alive, "float32")))
        bn_stats = []
        for layer, inputs in zip(self.bn_layers, bn, strict=True):
            axis = layer.axis % len(inputs.shape)
            axes = [i for i in range(len(inputs.shape)) if i != axis]
            bn_stats.append(ops.moments(ops.cast(inputs, "float32"), axes=axes))
        return loss, prediction, grad_norms, dead, bn_stats

    def _distributed_pass(self):
        """The pass on one device, or on each replica of the model's strategy.

        Under `tf.distribute` a model's variables can only be read for training inside a
        replica context, so every replica runs the pass on the whole probe batch and the
        first replica's results are kept. Keras divides a replica's loss by the number of
        replicas (their gradients are summed), so loss and gradient norms are multiplied
        back: the findings are those of one device.
        """
        strategy = getattr(self.model, "distribute_strategy", None)
        replicas = strategy.num_replicas_in_sync if strategy is not None else 1
        if replicas == 1:
            return self._function(self.x, self.y)
        per_replica = strategy.run(self._function, args=(self.x, self.y))
        first = keras.tree.map_structure(
            lambda value: strategy.experimental_local_results(value)[0], per_replica
        )
        loss, prediction, grad_norms, dead, bn_stats = first
        return loss * replicas, prediction, [g * replicas for g in grad_norms], dead, bn_stats

    def run(self, with_prediction: bool = True) -> dict:
        """Runs the pass; returns NumPy results, with the model's state left untouched."""
        saved = snapshot(self._side_effects)
        loss, prediction, grad_norms, dead, bn_stats = self._distributed_pass()
        restore(self._side_effects, saved)
        if with_prediction:
            prediction = keras.tree.map_structure(
                lambda t: np.asarray(ops.convert_to_numpy(t), "float32"), prediction
            )
        return {
            "loss": float(loss),
            "prediction": prediction,
            "grad_norms": [float(g) for g in grad_norms],
            "dead": {layer.name: float(d) for layer, d in zip(self.relu_layers, dead, strict=True)},
            "bn": {
                layer.name: (ops.convert_to_numpy(m), ops.convert_to_numpy(v))
                for layer, (m, v) in zip(self.bn_layers, bn_stats, strict=True)
            },
        }


_KINDS = {
    "mean_squared_error": "mse",
    "mse": "mse",
    "mean_absolute_error": "mae",
    "mae": "mae",
    "binary_crossentropy": "bce",
    "categorical_crossentropy": "cce",
    "sparse_categorical_crossentropy": "scce",
}


def loss_kind(loss):
    """`(kind, from_logits)` for the common Keras losses, `(None, False)` otherwise."""
    if isinstance(loss, keras.losses.Loss):
        config = loss.get_config()
        name = _snake(type(loss).__name__)
        return _KINDS.get(name), bool(config.get("from_logits", False))
    if isinstance(loss, str):
        return _KINDS.get(loss), False
    return _KINDS.get(getattr(loss, "__name__", "")), False


def _snake(name):
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


def constant_loss(model, y, num_classes=None):
    """The loss of the best constant prediction for targets `y` under the model's loss.

    A network that ignores its input can reach this value, so a run that never goes below
    it has learned nothing, and a first loss far above it points at a wrong pairing of the
    output activation and the loss, or at a badly initialised last layer. Known for mean
    squared and absolute error and the three cross-entropies (the best constant is the
    target mean, the median, the class frequencies); `None` for other or multi-output losses.
    """
    kind, from_logits = loss_kind(model.loss)
    if kind is None or isinstance(y, (dict, list, tuple)):
        return None
    y = np.asarray(y)
    if kind == "scce":
        if num_classes is None:
            return None
        labels = y.reshape(-1).astype("int64")
        prior = np.bincount(labels, minlength=num_classes)[:num_classes] / labels.size
        constant = np.broadcast_to(prior, (len(y), num_classes))
    elif kind == "mae":
        constant = np.broadcast_to(np.median(y, axis=0), y.shape)
    else:
        constant = np.broadcast_to(np.mean(y, axis=0), y.shape)
    if kind in ("bce", "cce", "scce"):
        constant = np.clip(constant, 1e-7, 1 - 1e-7)
        if from_logits:
            constant = np.log(constant) - (np.log1p(-constant) if kind == "bce" else 0.0)
    loss = keras.losses.get(model.loss) if isinstance(model.loss, str) else model.loss
    value = float(np.mean(np.asarray(loss(y, constant.astype("float32")))))
    return value if math.isfinite(value) else None


def balanced_class_loss(model, classes):
    """`log(C)` (or `log 2`) for cross-entropy losses: the loss of uniform predictions."""
    kind, _ = loss_kind(model.loss)
    if kind in ("cce", "scce") and classes and classes > 1:
        return math.log(classes)
    return math.log(2.0) if kind == "bce" else None
