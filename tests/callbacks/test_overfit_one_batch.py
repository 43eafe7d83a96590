"""overfit_one_batch: fits real labels, flags shuffled ones, leaves the model untouched."""

import keras
import numpy as np
import pytest

import kerastricks as kt

pytestmark = pytest.mark.backend_independent


def batch(seed=0, n=48):
    rng = np.random.default_rng(seed)
    centers = np.random.default_rng(9).normal(size=(5, 8)) * 2.0
    y = rng.integers(0, 5, n).astype("int32")
    return (centers[y] + rng.normal(size=(n, 8))).astype("float32"), y


def mlp(hidden=True):
    keras.utils.set_random_seed(0)
    layers = [keras.Input((8,))]
    if hidden:
        layers += [keras.layers.Dense(32, activation="relu"), keras.layers.Dropout(0.1)]
    model = keras.Sequential(layers + [keras.layers.Dense(5, activation="softmax")])
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    return model


def test_real_labels_pass_and_the_model_is_untouched():
    model = mlp()
    before = [v.numpy().copy() for v in model.variables]
    x, y = batch()
    report = kt.callbacks.overfit_one_batch(model, x, y, steps=100, learning_rate=1e-2)
    assert report.passed and report.fitted and report.labels_aligned
    # Best constant: the class frequencies; its cross-entropy is their entropy (NumPy).
    freq = np.bincount(y, minlength=5) / len(y)
    entropy = -np.sum(freq[freq > 0] * np.log(freq[freq > 0]))
    assert report.constant_loss == pytest.approx(entropy, rel=1e-4)
    assert report.losses[-1] < 0.1 * entropy
    for variable, value in zip(model.variables, before, strict=True):
        np.testing.assert_array_equal(variable.numpy(), value)
    assert not model.optimizer.built  # the model's own optimizer was never used
    assert "passed" in str(report)


def test_shuffled_labels_are_not_aligned():
    x, y = batch()
    y = np.random.default_rng(5).permutation(y)
    report = kt.callbacks.overfit_one_batch(mlp(), x, y, steps=100, learning_rate=1e-2)
    assert report.labels_aligned is False and not report.passed
    assert report.speed >= 0.8 * report.shuffled_speed


def test_a_model_that_cannot_fit():
    # A linear softmax cannot separate labels that depend on the product of two inputs.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 8)).astype("float32")
    y = ((x[:, 0] * x[:, 1] > 0).astype("int32") * 2 + (x[:, 2] * x[:, 3] > 0)).astype("int32")
    report = kt.callbacks.overfit_one_batch(mlp(hidden=False), x, y, steps=60, learning_rate=1e-2)
    assert not report.fitted and not report.passed


def test_uncompiled_model_is_rejected():
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(5)])
    with pytest.raises(ValueError, match="Compile the model"):
        kt.callbacks.overfit_one_batch(model, *batch())
    with pytest.raises(TypeError, match="model"):
        kt.callbacks.overfit_one_batch("model", *batch())
    with pytest.raises(ValueError, match="steps"):
        kt.callbacks.overfit_one_batch(mlp(), *batch(), steps=1)
