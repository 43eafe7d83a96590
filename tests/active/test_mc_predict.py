"""mc_predict: T stochastic passes, members first."""

import keras
import numpy as np
import pytest

import kerastricks as kt

pytestmark = pytest.mark.backend_independent


def make_model(seed=0, rate=0.5):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(32, activation="relu"),
            kt.layers.MCDropout(rate, seed=seed),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )


def test_shape_and_randomness():
    model = make_model()
    x = np.random.default_rng(0).normal(size=(10, 4)).astype("float32")
    probs = kt.active.mc_predict(model, x, samples=6, batch_size=4)
    assert probs.shape == (6, 10, 3)
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-5)
    # Different passes differ (the masks change between predict calls).
    assert all(np.any(probs[0] != probs[t]) for t in range(1, 6))
    assert kt.active.bald(probs).max() > 0


def test_rate_zero_gives_the_deterministic_prediction():
    model = make_model(rate=0.0)
    x = np.random.default_rng(1).normal(size=(7, 4)).astype("float32")
    probs = kt.active.mc_predict(model, x, samples=3)
    # Reference: the model's own deterministic output, repeated.
    expected = keras.ops.convert_to_numpy(model(x, training=False))
    np.testing.assert_allclose(probs, np.broadcast_to(expected, (3, 7, 3)), rtol=1e-6)


def test_seeded_layers_repeat_the_same_sequence():
    x = np.random.default_rng(2).normal(size=(5, 4)).astype("float32")
    first = kt.active.mc_predict(make_model(seed=3), x, samples=3)
    second = kt.active.mc_predict(make_model(seed=3), x, samples=3)
    np.testing.assert_array_equal(first, second)


def test_finds_mc_dropout_in_a_nested_model_and_warns_without_one():
    inner = make_model()
    inputs = keras.Input((4,))
    outer = keras.Model(inputs, inner(inputs))
    x = np.zeros((2, 4), "float32")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kt.active.mc_predict(outer, x, samples=2)
    plain = keras.Sequential([keras.Input((4,)), keras.layers.Dropout(0.5), keras.layers.Dense(2)])
    with pytest.warns(UserWarning, match="no `kt.layers.MCDropout`"):
        kt.active.mc_predict(plain, x, samples=2)


def test_bad_arguments():
    model = make_model()
    with pytest.raises(TypeError, match="`model` must be a keras.Model"):
        kt.active.mc_predict(lambda x: x, np.zeros((2, 4)))
    with pytest.raises(ValueError, match="`samples` must be >= 1. Received: samples=0"):
        kt.active.mc_predict(model, np.zeros((2, 4)), samples=0)
    with pytest.raises(TypeError, match="`samples` must be an integer"):
        kt.active.mc_predict(model, np.zeros((2, 4)), samples=2.0)
