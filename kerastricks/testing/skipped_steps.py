"""Matching a mixed-precision run's skipped steps in the float32 reference."""

import keras

from kerastricks.callbacks._state import unscaled_optimizer


class StepRecorder(keras.callbacks.Callback):
    """Notes the batches whose update the loss scale skipped; skips `skip` (by restoring).

    Keras's dynamic loss scale starts high and skips the update of a batch whose float16
    gradients overflow, halving the scale. To compare with float32 fairly, the reference
    then skips the same batches: their trainable variables and optimizer state are put
    back after the step (statistics such as batch normalization's still update, as they
    do in a skipped mixed-precision step).
    """

    def __init__(self, skip=()):
        super().__init__()
        self.skip, self.skipped, self.batch, self.saved = set(skip), [], 0, None

    def on_train_begin(self, logs=None):
        optimizer = unscaled_optimizer(self.model.optimizer)
        if not optimizer.built:  # slots must exist before a skipped first step is saved
            optimizer.build(self.model.trainable_variables)

    def _state(self):
        return (
            list(self.model.trainable_variables)
            + unscaled_optimizer(self.model.optimizer).variables
        )

    def on_train_batch_begin(self, batch, logs=None):
        self.before = int(unscaled_optimizer(self.model.optimizer).iterations.numpy())
        if self.batch in self.skip:
            self.saved = [(v, v.numpy()) for v in self._state()]

    def on_train_batch_end(self, batch, logs=None):
        if self.saved is not None:
            for variable, value in self.saved:
                variable.assign(value)
            self.saved = None
        elif int(unscaled_optimizer(self.model.optimizer).iterations.numpy()) == self.before:
            self.skipped.append(self.batch)
        self.batch += 1
