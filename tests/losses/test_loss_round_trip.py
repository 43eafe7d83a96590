"""Losses that kerastricks saves in its own configs come back as the same loss.

Keras 3.15's `Huber.get_config` drops `delta` (and `CosineSimilarity`'s drops `axis`): a
`GlobalWeightedMean(Huber(delta=0.25))` reloaded from its config computed 0.5 where the
original computed 0.21875 on `|error| = 1` (the test below failed so before the check).
"""

import keras
import numpy as np
import pytest

import kerastricks as kt

pytestmark = pytest.mark.backend_independent


def numpy_huber(error, delta):
    """Huber (1964): 0.5 e^2 inside `delta`, delta (|e| - delta / 2) outside."""
    error = np.abs(error)
    return np.where(error <= delta, 0.5 * error**2, delta * (error - 0.5 * delta)).mean(-1)


@keras.saving.register_keras_serializable(package="tests")
class HuberWithDelta(keras.losses.Huber):
    """The subclass docs/multitask.md shows: `get_config` adds `delta` back."""

    def __init__(self, delta=1.0, **kwargs):
        super().__init__(delta=delta, **kwargs)
        self.delta = delta

    def get_config(self):
        return {**super().get_config(), "delta": self.delta}


def test_a_loss_that_loses_an_argument_in_its_config_is_refused():
    with pytest.raises(ValueError, match=r"does not survive its own `get_config`.*Huber"):
        kt.losses.GlobalWeightedMean(keras.losses.Huber(delta=0.25))
    with pytest.raises(ValueError, match=r"`loss\['size'\]` does not survive"):
        model = _multi_task_model()
        model.compile("sgd", loss={"size": keras.losses.Huber(delta=0.25), "kind": "mse"})
    with pytest.raises(ValueError, match="CosineSimilarity"):
        kt.losses.GlobalWeightedMean(keras.losses.CosineSimilarity(axis=1))


def test_defaults_and_complete_configs_round_trip_with_their_values():
    y_true = np.zeros((2, 3), "float32")
    # Errors on both sides of delta = 0.25 and of the default 1.0.
    y_pred = np.array([[0.1, 0.5, 2.0], [-0.2, -1.5, 3.0]], "float32")
    for loss, delta in [(keras.losses.Huber(), 1.0), (HuberWithDelta(delta=0.25), 0.25)]:
        wrapped = kt.losses.GlobalWeightedMean(loss)
        copy = kt.losses.GlobalWeightedMean.from_config(wrapped.get_config())
        expected = numpy_huber(y_pred - y_true, delta).mean()  # float32 inputs: rtol 1e-6
        np.testing.assert_allclose(float(wrapped(y_true, y_pred)), expected, rtol=1e-6)
        np.testing.assert_allclose(float(copy(y_true, y_pred)), expected, rtol=1e-6)


def _multi_task_model():
    inputs = keras.Input((2,))
    outputs = {
        "size": keras.layers.Dense(1, name="size")(inputs),
        "kind": keras.layers.Dense(1, name="kind")(inputs),
    }
    return kt.models.MultiTaskModel(inputs, outputs, weighting="equal")
