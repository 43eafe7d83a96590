"""A compiled forward and backward pass of a model, on the TensorFlow or the JAX backend.

`TrainingDoctor`'s probe and `overfit_one_batch` need the loss's gradients with respect to
the model's trainable variables outside `fit`. TensorFlow records them with a
`GradientTape` in a `tf.function`; JAX differentiates a pure function of the variables'
values, which Keras provides through `keras.StatelessScope` (as Keras's own JAX trainer
does). Both are wrapped here behind one call, so the callers are written once.
"""

import keras

__all__ = ["gradient_pass"]


def gradient_pass(model, forward, finish):
    """Compiles `x, y -> finish(loss, gradients, aux)` for `model` on the active backend.

    Args:
        model: the Keras model whose `trainable_variables` are differentiated.
        forward: `forward(x, y) -> (loss, aux)`, computed with the model's layers.
        finish: `finish(loss, gradients, aux) -> result`, written with `keras.ops`;
            `gradients` follow `model.trainable_variables` (`None` on TensorFlow for a
            variable the loss does not reach, zeros on JAX).

    Returns:
        A callable `(x, y) -> result`. Changes that the forward pass makes to non-trainable
        variables (moving statistics, seed states) are applied to the model, as in `fit`.
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        return _tensorflow_pass(model, forward, finish)
    if backend == "jax":
        return _jax_pass(model, forward, finish)
    raise NotImplementedError(
        "This needs gradients outside `fit`, written for the tensorflow and jax backends "
        f"(docs/backends.md). Received: backend={backend!r}"
    )


def _tensorflow_pass(model, forward, finish):
    import tensorflow as tf

    def step(x, y):
        with tf.GradientTape() as tape:
            loss, aux = forward(x, y)
        return finish(loss, tape.gradient(loss, model.trainable_variables), aux)

    return tf.function(step)


def _jax_pass(model, forward, finish):
    import jax

    trainable, non_trainable = model.trainable_variables, model.non_trainable_variables

    def pure(trainable_values, non_trainable_values, x, y):
        mapping = [*zip(trainable, trainable_values), *zip(non_trainable, non_trainable_values)]
        with keras.StatelessScope(state_mapping=mapping) as scope:
            loss, aux = forward(x, y)
        updated = [scope.get_current_value(v) for v in non_trainable]
        updated = [old if new is None else new for old, new in zip(non_trainable_values, updated)]
        return loss, (aux, updated)

    def step(trainable_values, non_trainable_values, x, y):
        differentiate = jax.value_and_grad(pure, has_aux=True)
        (loss, (aux, updated)), gradients = differentiate(
            trainable_values, non_trainable_values, x, y
        )
        return finish(loss, gradients, aux), updated

    compiled = jax.jit(step)

    def call(x, y):
        values = [v.value for v in trainable], [v.value for v in non_trainable]
        result, updated = compiled(*values, x, y)
        for variable, value in zip(non_trainable, updated, strict=True):
            variable.assign(value)
        return result

    return call
