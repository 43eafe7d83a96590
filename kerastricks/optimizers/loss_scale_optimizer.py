"""A dynamic loss scale that skips a step on every replica when any replica overflows."""

import keras

from kerastricks._registry import register

__all__ = ["LossScaleOptimizer"]


@register
class LossScaleOptimizer(keras.optimizers.LossScaleOptimizer):
    """`keras.optimizers.LossScaleOptimizer` that decides to skip a step for all replicas.

    Mixed precision (`mixed_float16`) scales the loss up so float16 gradients do not
    underflow, and skips the update of a step whose scaled gradients overflow, halving the
    scale. Keras 3.15 decides from the *local* gradients, before they are all-reduced, and
    under `tf.distribute` that goes wrong when only some replicas overflow:

    - `MirroredStrategy` (one machine, several GPUs) takes the decision of the first
      replica, so when only another replica overflows the step is applied with the
      all-reduced inf gradients and every weight becomes NaN, silently
      (`tests/optimizers/test_loss_scale_optimizer.py` shows it on two logical CPUs);
    - `MultiWorkerMirroredStrategy` lets every worker decide on its own: one worker skips,
      the other waits in the gradient all-reduce forever (or until the collective's
      timeout).

    This subclass all-reduces the decision itself (`check_finite`): a step is applied
    only if every replica's gradients are finite, and skipped on all of them otherwise.
    One scalar all-reduce per step. Everything else is Keras's: the constructor, the scale
    schedule, saving. On one device it is exactly Keras's optimizer.

    Keras wraps the optimizer of a model compiled under `mixed_float16` in its own
    `LossScaleOptimizer` unless it already is one, so pass this one yourself.

    The constructor's arguments are Keras's: `inner_optimizer` (the optimizer to wrap),
    `initial_scale` (the first loss scale, `2.0**15` by default), `dynamic_growth_steps`
    (finite steps before the scale doubles, 2000 by default), and the other keyword
    arguments of `keras.optimizers.LossScaleOptimizer`.

    Example:

    >>> import keras
    >>> import kerastricks as kt
    >>> keras.config.set_dtype_policy("mixed_float16")
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    >>> optimizer = kt.optimizers.LossScaleOptimizer(keras.optimizers.SGD(0.01))
    >>> model.compile(optimizer, "mse")
    >>> model.optimizer is optimizer
    True
    >>> keras.config.set_dtype_policy("float32")
    """

    def check_finite(self, grads):
        """Whether the gradients of *every* replica are finite (a scalar bool tensor)."""
        finite = super().check_finite(grads)
        if keras.backend.backend() != "tensorflow":
            return finite  # JAX and PyTorch distribute outside the optimizer
        import tensorflow as tf

        context = tf.distribute.get_replica_context()
        if context is None or context.num_replicas_in_sync == 1:
            return finite
        overflowed = keras.ops.cast(keras.ops.logical_not(finite), "float32")
        overflowed = context.all_reduce("SUM", overflowed)
        return keras.ops.equal(overflowed, 0.0)
