"""kt.losses.GlobalWeightedMean: the weighted mean of the global batch, on any replica count."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerastricks as kt
from tests.helpers import check_config_round_trip, two_device_strategy

pytestmark = pytest.mark.backend_independent

RNG = np.random.default_rng(0)
Y_TRUE = RNG.normal(size=(4, 3, 3, 1)).astype("float32")
Y_PRED = RNG.normal(size=(4, 3, 3, 1)).astype("float32")
# A mask spread unevenly: the first half of the batch (replica 0) has 3 pixels, the
# second half (replica 1) 11.
MASK = np.zeros((4, 3, 3), "float32")
MASK[0, 0, :2] = MASK[1, 1, 1] = 1
MASK[2] = 1
MASK[3, 0, :2] = 1


def numpy_mean(y_true, y_pred, weights):
    errors = np.abs(y_true - y_pred)[..., 0].astype(np.float64)
    return float((errors * weights).sum() / weights.sum())


def test_one_device_is_the_weighted_mean_and_keras_mean_with_sample_weight():
    loss = kt.losses.GlobalWeightedMean("mean_absolute_error")
    value = float(loss(Y_TRUE, Y_PRED, sample_weight=MASK))
    np.testing.assert_allclose(value, numpy_mean(Y_TRUE, Y_PRED, MASK), rtol=1e-6)
    keras_loss = keras.losses.MeanAbsoluteError(reduction="mean_with_sample_weight")
    np.testing.assert_allclose(value, float(keras_loss(Y_TRUE, Y_PRED, MASK)), rtol=1e-6)
    # No weights: the plain mean; an all-zero mask: 0, not NaN.
    np.testing.assert_allclose(
        float(loss(Y_TRUE, Y_PRED)), np.abs(Y_TRUE - Y_PRED).mean(), rtol=1e-6
    )
    assert float(loss(Y_TRUE, Y_PRED, sample_weight=np.zeros_like(MASK))) == 0.0


def _per_replica_mean(loss):
    """The loss on two replicas, each on its half of the batch: Keras's losses return each
    replica's share of the global loss (the trainer sums the gradients), so the shares sum."""
    strategy = two_device_strategy()
    dataset = tf.data.Dataset.from_tensor_slices((Y_TRUE, Y_PRED, MASK)).batch(4)
    batch = next(iter(strategy.experimental_distribute_dataset(dataset)))
    values = strategy.run(lambda t, p, w: loss(t, p, sample_weight=w), args=batch)
    return float(strategy.reduce("SUM", values, axis=None))


@pytest.mark.tensorflow
def test_two_replicas_give_the_global_weighted_mean():
    expected = numpy_mean(Y_TRUE, Y_PRED, MASK)
    ours = _per_replica_mean(kt.losses.GlobalWeightedMean(keras.losses.MeanAbsoluteError()))
    np.testing.assert_allclose(ours, expected, rtol=1e-6)
    # Keras's own reduction averages the two halves' means instead: another number here.
    keras_loss = keras.losses.MeanAbsoluteError(reduction="mean_with_sample_weight")
    halves = [numpy_mean(Y_TRUE[s], Y_PRED[s], MASK[s]) for s in (slice(0, 2), slice(2, 4))]
    np.testing.assert_allclose(_per_replica_mean(keras_loss), np.mean(halves), rtol=1e-6)
    assert abs(np.mean(halves) - expected) > 0.05 * expected  # 7.7 % here (3 vs 11 pixels)


def workflow(loss):
    x = RNG.normal(size=(8, 3, 3, 2)).astype("float32")
    y = (x[..., :1] * 2.0 - x[..., 1:]).astype("float32")
    weights = np.concatenate([MASK, MASK[::-1]])

    def build(cell):
        keras.utils.set_random_seed(0)
        inputs = keras.Input((3, 3, 2))
        model = keras.Model(inputs, keras.layers.Conv2D(1, 1)(inputs))
        model.compile(keras.optimizers.SGD(0.1), loss, jit_compile=cell == "xla")
        return model

    return kt.testing.Workflow("masked", build, (x, y, weights), epochs=2, batch_size=4)


@pytest.mark.tensorflow
def test_training_on_two_replicas_matches_one_device():
    loss = kt.losses.GlobalWeightedMean("mean_absolute_error")
    (ours,) = kt.testing.check_composition(
        workflow(loss), cells=["mirrored"], strategy=two_device_strategy()
    )
    assert ours.status == "pass", ours
    keras_loss = keras.losses.MeanAbsoluteError(reduction="mean_with_sample_weight")
    (theirs,) = kt.testing.check_composition(
        workflow(keras_loss), cells=["mirrored"], strategy=two_device_strategy()
    )
    assert theirs.status == "fail"  # the harness sees the per-replica divisor


@pytest.mark.parametrize("loss", ["mean_absolute_error", keras.losses.MeanSquaredError()])
def test_config_round_trip_and_saving(loss, tmp_path):
    check_config_round_trip(kt.losses.GlobalWeightedMean, {"loss": loss})
    model = keras.Sequential([keras.Input((3, 3, 1)), keras.layers.Conv2D(1, 1)])
    model.compile("sgd", kt.losses.GlobalWeightedMean(loss))
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    expected = model.loss(Y_TRUE, Y_PRED, sample_weight=MASK)
    np.testing.assert_allclose(float(loaded.loss(Y_TRUE, Y_PRED, MASK)), float(expected))
