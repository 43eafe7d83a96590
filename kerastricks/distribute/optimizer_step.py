"""One optimizer step for a custom `train_step`, scaled right on any number of replicas."""

import tensorflow as tf

from kerastricks._checks import fail

__all__ = ["optimizer_step"]


def optimizer_step(model, loss_fn, variables=None):
    """Differentiates `loss_fn()` and applies one optimizer step, as `model.fit`'s own step.

    Under `tf.distribute`, each replica computes the mean loss of its part of the batch and
    the gradients of all replicas are *summed*; a custom `train_step` that differentiates
    that mean as it is takes steps `num_replicas_in_sync` times too large. This helper
    divides the loss by the number of replicas before differentiating (Keras's
    `scale_loss_for_distribution`), multiplies it by the optimizer's loss scale under
    `mixed_float16` (`optimizer.scale_loss`), and applies the gradients with
    `optimizer.apply`, so the step is the same on one device and on many.

    Args:
        model: the model whose `optimizer` takes the step.
        loss_fn: a function of no arguments returning the mean loss of this replica's
            batch, or a tuple `(loss, anything)`; it runs under the gradient tape.
        variables: the variables to train. Defaults to `model.trainable_variables`.

    Returns:
        What `loss_fn` returned, unscaled (log this one).

    Raises:
        ValueError: the model has no optimizer (it is not compiled).

    Example:

    >>> import keras, numpy as np
    >>> import kerastricks as kt
    >>> class Regressor(keras.Model):
    ...     def train_step(self, data):
    ...         x, y = data
    ...         loss = kt.distribute.optimizer_step(
    ...             self, lambda: keras.ops.mean((self(x, training=True) - y) ** 2))
    ...         return {"mse": loss}
    >>> inputs = keras.Input((3,))
    >>> model = Regressor(inputs, keras.layers.Dense(1)(inputs))
    >>> model.compile(optimizer="sgd")
    >>> x = np.random.default_rng(0).normal(size=(32, 3)).astype("float32")
    >>> history = model.fit(x, x[:, :1], epochs=2, verbose=0)
    >>> history.history["mse"][1] < history.history["mse"][0]
    True
    """
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        fail("The model has no optimizer: compile it first.", "model.optimizer", None)
    variables = list(model.trainable_variables if variables is None else variables)
    replicas = tf.distribute.get_strategy().num_replicas_in_sync
    with tf.GradientTape() as tape:
        result = loss_fn()
        loss = result[0] if isinstance(result, tuple) else result
        scaled = optimizer.scale_loss(loss / replicas if replicas > 1 else loss)
    gradients = tape.gradient(scaled, variables)
    optimizer.apply(gradients, variables)
    return result
