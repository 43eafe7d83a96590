"""The base of the metric classes that average a per-sample function (not public)."""

import keras
from keras import ops


class SampleMean(keras.metrics.Mean):
    """A `keras.metrics.Mean` of per-sample values, with its own arguments in the config.

    Subclasses implement `per_sample(y_true, y_pred)`, returning `[B]` values and `[B]`
    weights (or `None`: every sample counts once), and list their constructor arguments in
    `argument_names` (each kept as a same-named attribute). The state is Keras's: a
    weighted sum and a count, both summed over replicas, so the result over several
    batches (and replicas) is the weighted mean of the per-sample values over all of them.
    """

    argument_names = ()

    def per_sample(self, y_true, y_pred):
        raise NotImplementedError

    def update_state(self, y_true, y_pred, sample_weight=None):
        values, weights = self.per_sample(y_true, y_pred)
        values = ops.cast(values, self.dtype)
        if weights is not None:
            weights = ops.cast(weights, self.dtype)  # before multiplying: it may be bool
        if sample_weight is not None:
            sample_weight = ops.reshape(ops.cast(sample_weight, self.dtype), (-1,))
            sample_weight = ops.broadcast_to(sample_weight, ops.shape(values))
            weights = sample_weight if weights is None else weights * sample_weight
        if weights is not None:
            # A sample of weight 0 must not turn an infinite value into NaN.
            values = ops.where(weights > 0, values, ops.zeros_like(values))
        return super().update_state(values, sample_weight=weights)

    def get_config(self):
        arguments = {name: getattr(self, name) for name in self.argument_names}
        return {**super().get_config(), **arguments}
