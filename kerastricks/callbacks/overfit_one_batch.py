"""The check to run before a long run: can the model memorise one small batch?"""

import contextlib
import dataclasses

import keras
import numpy as np
from keras import ops

from kerastricks._checks import check_int, check_number, check_type, fail
from kerastricks.callbacks._doctor_probe import constant_loss
from kerastricks.callbacks._gradient_pass import gradient_pass
from kerastricks.callbacks._state import restore, snapshot, unique_variables

__all__ = ["OverfitReport", "overfit_one_batch"]


@dataclasses.dataclass(frozen=True)
class OverfitReport:
    """What `overfit_one_batch` measured.

    Attributes:
        losses: the loss at each step on the real labels.
        shuffled_losses: the same on labels shuffled across the batch, or `None`.
        constant_loss: the loss of the best constant prediction, or `None` if unknown.
        fitted: whether the loss fell below a tenth of the reference (the constant
            prediction's loss when known, else the first loss).
        labels_aligned: whether the real labels were fitted clearly faster than shuffled
            ones (`None` without the comparison).
    """

    losses: list
    shuffled_losses: list | None
    constant_loss: float | None
    fitted: bool
    labels_aligned: bool | None

    @property
    def passed(self) -> bool:
        """`True` if the batch was fitted and the labels did not look shuffled."""
        return self.fitted and self.labels_aligned is not False

    @property
    def speed(self) -> float:
        """Mean loss over the run over the constant prediction's loss (or, unknown, over
        the first loss): the area under the loss curve, smaller when fitted faster."""
        return _speed(self.losses, self.constant_loss or self.losses[0])

    @property
    def shuffled_speed(self):
        """`speed` on shuffled labels (same reference), or `None`."""
        if self.shuffled_losses is None:
            return None
        return _speed(self.shuffled_losses, self.constant_loss or self.losses[0])

    def __str__(self):
        lines = [
            f"overfit_one_batch: {'passed' if self.passed else 'FAILED'}",
            f"  loss {self.losses[0]:.4g} -> {self.losses[-1]:.4g} in {len(self.losses)} steps"
            + ("" if self.constant_loss is None else f" (constant: {self.constant_loss:.4g})"),
        ]
        if self.shuffled_losses is not None:
            lines.append(
                f"  speed real {self.speed:.3g} vs shuffled {self.shuffled_speed:.3g} "
                f"(mean loss / reference loss; labels aligned: {self.labels_aligned})"
            )
        return "\n".join(lines)


def _speed(losses, reference):
    return float(np.mean(np.asarray(losses, "float64")) / reference)


def overfit_one_batch(
    model,
    x,
    y,
    steps: int = 200,
    learning_rate: float = 3e-3,
    compare_shuffled: bool = True,
    seed: int = 0,
) -> OverfitReport:
    """Trains a compiled model on one small batch, then puts every weight back.

    A network with enough capacity should drive the loss on one small batch (16 to 128
    examples) close to zero within a few hundred steps. If it cannot, there is a bug to
    find before a long run: a wrong loss/activation pairing, frozen or dead layers, inputs
    not normalised. With `compare_shuffled`, the same is done with the labels shuffled
    across the batch: real labels carry structure and are fitted clearly faster (the mean
    loss over the run, the area under the curve, below 0.8 of the shuffled run's; both
    runs start from the same weights and share the labels' distribution); if they are
    not, the labels probably do not belong to their inputs.

    The model trains with a fresh Adam optimizer on its compiled loss, in training mode;
    its weights, batch-norm statistics, random states and loss metrics are restored
    exactly afterwards, and its own optimizer is not touched.

    Reference:
        Karpathy, "A Recipe for Training Neural Networks" (2019): "overfit one batch";
        Zhang et al., "Understanding deep learning requires rethinking generalization"
        (ICLR 2017): random labels are memorised, but more slowly than real ones.

    Args:
        model: a compiled Keras model (its `loss` is used).
        x: the inputs of one batch (an array, or a structure the model accepts).
        y: the targets of that batch.
        steps: training steps per run. Defaults to 200.
        learning_rate: Adam's learning rate. Defaults to `3e-3`.
        compare_shuffled: also fit shuffled labels and compare. Defaults to `True`.
        seed: seed of the shuffle. Defaults to 0.

    Returns:
        An `OverfitReport` (`passed`, `fitted`, `labels_aligned`, the loss curves); its
        `str` is a short summary.

    Raises:
        TypeError: `model` is not a Keras model.
        ValueError: the model is not compiled with a loss; `steps < 2`; `learning_rate`
            is not positive.

    Example:

    >>> import keras, numpy as np
    >>> import kerastricks as kt
    >>> keras.utils.set_random_seed(0)
    >>> x = np.random.default_rng(0).normal(size=(32, 4)).astype("float32")
    >>> y = (x[:, 0] > 0).astype("int32")
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(16, activation="relu"),
    ...                           keras.layers.Dense(2, activation="softmax")])
    >>> model.compile("adam", "sparse_categorical_crossentropy")
    >>> report = kt.callbacks.overfit_one_batch(model, x, y, steps=100, learning_rate=1e-2)
    >>> report.fitted, report.labels_aligned
    (True, True)
    """
    check_type("model", model, keras.Model, "a Keras model")
    if not getattr(model, "compiled", False) or model.loss is None:
        fail("Compile the model with a loss before calling overfit_one_batch.", "model", model.name)
    steps = check_int("steps", steps, minimum=2)
    learning_rate = check_number("learning_rate", learning_rate, minimum=0, min_inclusive=False)
    x = keras.tree.map_structure(ops.convert_to_tensor, x)
    y = keras.tree.map_structure(np.asarray, y)

    variables = unique_variables(model.variables, [v for m in model.metrics for v in m.variables])
    saved = snapshot(variables)
    step, optimizer = _training_step(model, learning_rate)
    fresh = snapshot(optimizer.variables)

    def run(targets):
        restore(variables, saved)
        restore(optimizer.variables, fresh)
        targets = keras.tree.map_structure(ops.convert_to_tensor, targets)
        return [float(step(x, targets)) for _ in range(steps)]

    try:
        losses = run(y)
        shuffled = None
        if compare_shuffled:
            order = np.random.default_rng(seed).permutation(len(keras.tree.flatten(y)[0]))
            shuffled = run(keras.tree.map_structure(lambda t: t[order], y))
    finally:
        restore(variables, saved)

    outputs = getattr(model, "outputs", None) or [None]
    classes = outputs[0].shape[-1] if len(outputs) == 1 and outputs[0] is not None else None
    baseline = constant_loss(model, y, classes)
    reference = baseline if baseline else losses[0]
    # Shuffling keeps the labels' distribution, so the two loss curves share a scale.
    aligned = None if shuffled is None else bool(np.mean(losses) < 0.8 * np.mean(shuffled))
    return OverfitReport(
        losses=losses,
        shuffled_losses=shuffled,
        constant_loss=baseline,
        fitted=bool(np.isfinite(losses[-1]) and losses[-1] <= 0.1 * reference),
        labels_aligned=aligned,
    )


def _training_step(model, learning_rate):
    """`(step, optimizer)`: `step(x, y)` takes one Adam step on the batch, returns the loss."""
    strategy = None
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        # Under the model's tf.distribute strategy, each replica takes the whole batch;
        # Keras scales the loss by 1 / replicas and the optimizer sums the gradients.
        strategy = getattr(model, "distribute_strategy", None) or tf.distribute.get_strategy()
    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        optimizer = keras.optimizers.Adam(learning_rate)
        optimizer.build(model.trainable_variables)
    forward = lambda x, y: (model.compute_loss(x=x, y=y, y_pred=model(x, training=True)), None)
    gradients = gradient_pass(model, forward, lambda loss, grads, aux: (loss, grads))

    def replica_step(x, y):
        loss, grads = gradients(x, y)
        pairs = zip(grads, model.trainable_variables, strict=True)
        optimizer.apply_gradients([(g, v) for g, v in pairs if g is not None])
        return loss

    if strategy is None:  # JAX: the gradients are compiled, the update runs eagerly
        return replica_step, optimizer

    @tf.function
    def step(x, y):
        loss = strategy.run(replica_step, args=(x, y))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, loss, axis=None)

    return step, optimizer
