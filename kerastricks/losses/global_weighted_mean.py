"""A sample-weighted mean of a loss over the global batch, the same on any number of replicas."""

import keras
from keras import ops

from kerastricks._registry import register
from kerastricks.losses._round_trip import check_loss_round_trip

__all__ = ["GlobalWeightedMean"]


@register
class GlobalWeightedMean(keras.losses.Loss):
    """`sum(w * loss) / sum(w)` over the *global* batch, on one device or several replicas.

    Keras's `reduction="mean_with_sample_weight"` divides by the sum of the weights of the
    batch it sees. Under `tf.distribute` each replica sees only its slice, so it divides by
    its own sum and the replicas' results are then averaged: the loss, and the gradients,
    depend on the number of replicas whenever the weights (masks) are spread unevenly over
    the batch. The multi-task recipe's instance loss, averaged over object pixels, moved
    the weights of a 2-step training by 0.18 of their displacement on two replicas
    (`docs/distribute.md`). This loss all-reduces the sum of the weights (one scalar per
    step), so every replica divides by the global sum, and the result is the one-device
    value on any number of replicas or workers. On one device it equals Keras's
    `mean_with_sample_weight`.

    Args:
        loss: the per-element loss: a Keras loss function or name (`"mean_absolute_error"`),
            or a `keras.losses.Loss` instance (its `call`, unreduced). Its values must have
            the shape of the sample weights, or of the weights with a last axis of 1. A
            loss whose `get_config` drops an argument set away from its default (Keras's
            `Huber(delta=...)`) raises `ValueError`: it would reload as another loss.
        name: the loss's name. Defaults to `"global_weighted_mean"`.
        dtype: the dtype of the result. Defaults to `None` (`keras.backend.floatx()`).

    Example:

    >>> import numpy as np
    >>> import kerastricks as kt
    >>> loss = kt.losses.GlobalWeightedMean("mean_absolute_error")
    >>> y_true, y_pred = np.zeros((2, 3, 1)), np.ones((2, 3, 1))
    >>> weights = np.array([[1.0, 0.0, 0.0], [1.0, 1.0, 0.0]])
    >>> float(loss(y_true, y_pred * [[[1], [2], [3]]], sample_weight=weights))  # (1+1+2)/3
    1.3333333...
    """

    def __init__(self, loss="mean_absolute_error", name=None, dtype=None):
        super().__init__(name=name or "global_weighted_mean", dtype=dtype)
        self.loss = loss if isinstance(loss, keras.losses.Loss) else keras.losses.get(loss)
        check_loss_round_trip("loss", self.loss)  # it is saved in this loss's config

    def call(self, y_true, y_pred):
        if isinstance(self.loss, keras.losses.Loss):
            return self.loss.call(y_true, y_pred)
        return self.loss(y_true, y_pred)

    def __call__(self, y_true, y_pred, sample_weight=None):
        values = ops.cast(self.call(y_true, y_pred), "float32")
        if sample_weight is None:
            weights = ops.ones_like(values)
        else:
            weights = ops.cast(sample_weight, "float32")
            if len(values.shape) == len(weights.shape) + 1 and values.shape[-1] == 1:
                values = ops.squeeze(values, axis=-1)
            weights = ops.broadcast_to(weights, ops.shape(values))
        total = ops.sum(weights)
        if keras.backend.backend() == "tensorflow":
            import tensorflow as tf

            context = tf.distribute.get_replica_context()
            if context is not None and context.num_replicas_in_sync > 1:
                # Keras's convention: a replica returns its share, and the shares sum to
                # the global loss (its own losses divide their local mean by the number
                # of replicas). Here the share is this replica's weighted sum over the
                # global sum of weights.
                total = context.all_reduce("SUM", total)
        mean = ops.divide_no_nan(ops.sum(values * weights), total)
        return ops.cast(mean, self.dtype)

    def get_config(self):
        return {
            "name": self.name,
            "dtype": self.dtype,
            "loss": keras.losses.serialize(self.loss),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["loss"] = keras.losses.deserialize(config["loss"])
        return cls(**config)
