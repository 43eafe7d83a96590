"""MCDropout: the layer contract, dropout at inference, BN kept in inference mode."""

import keras
import numpy as np
import pytest

import kerastricks as kt
from tests.helpers import run_layer_test

pytestmark = pytest.mark.backend_independent


def test_layer_contract():
    x = np.random.default_rng(0).normal(size=(4, 6, 6, 3)).astype("float32")
    run_layer_test(kt.layers.MCDropout, {"rate": 0.3, "seed": 2}, x, deterministic=False)
    run_layer_test(
        kt.layers.MCDropout,
        {"rate": 0.5, "noise_shape": [None, 1, 1, None], "seed": 3},
        x,
        deterministic=False,
    )


def test_rate_zero_is_identity_and_deterministic():
    x = np.random.default_rng(1).normal(size=(4, 5)).astype("float32")
    run_layer_test(kt.layers.MCDropout, {"rate": 0.0}, x, expected_output=x)


@pytest.mark.parametrize("training", [None, False, True])
def test_drops_and_rescales_whatever_the_training_flag(training):
    layer = kt.layers.MCDropout(0.25, seed=0)
    x = np.ones((200, 50), "float32")
    y = keras.ops.convert_to_numpy(layer(x, training=training))
    # Kept units are scaled by 1 / (1 - 0.25); the dropped fraction is near 0.25
    # (binomial with n=10,000: standard deviation 0.0043, so 0.22..0.28 is > 6 sigma).
    np.testing.assert_allclose(np.unique(y), [0.0, 1 / 0.75], rtol=1e-6)
    assert 0.22 < (y == 0).mean() < 0.28


def test_noise_shape_drops_whole_channels():
    layer = kt.layers.MCDropout(0.5, noise_shape=(None, 1, 1, None), seed=0)
    y = keras.ops.convert_to_numpy(layer(np.ones((8, 4, 4, 16), "float32")))
    # Each (sample, channel) is either all zero or all 2 over the 4x4 positions.
    per_channel = y.transpose(0, 3, 1, 2).reshape(8, 16, 16)
    assert np.all(per_channel.min(-1) == per_channel.max(-1))


def test_predict_keeps_batch_norm_in_inference_mode():
    # Dense(identity) -> BatchNormalization with set moving statistics -> MCDropout(0.5).
    inputs = keras.Input((3,))
    bn = keras.layers.BatchNormalization(epsilon=1e-3)
    outputs = kt.layers.MCDropout(0.5, seed=0)(bn(inputs))
    model = keras.Model(inputs, outputs)
    gamma, beta = np.array([1.0, 2.0, 0.5]), np.array([0.1, -0.2, 0.3])
    mean, var = np.array([1.0, -1.0, 2.0]), np.array([4.0, 0.25, 1.0])
    bn.set_weights([gamma, beta, mean, var])
    x = np.random.default_rng(0).normal(size=(500, 3)).astype("float32")
    # BatchNormalization at inference, written out: (x - mean) / sqrt(var + eps) * gamma + beta;
    # kept units are that value times 1 / (1 - 0.5).
    expected = ((x - mean) / np.sqrt(var + 1e-3) * gamma + beta) * 2.0
    first, second = model.predict(x, verbose=0), model.predict(x, verbose=0)
    for y in (first, second):
        kept = y != 0
        assert 0.4 < kept.mean() < 0.6
        np.testing.assert_allclose(y[kept], expected[kept], rtol=1e-5, atol=1e-5)
    assert np.any(first != second), "two predict calls drew the same mask"


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"`rate` must be >= 0.0 and < 1.0. Received: rate=1.0"):
        kt.layers.MCDropout(1.0)
    with pytest.raises(TypeError, match="`rate` must be a real number"):
        kt.layers.MCDropout("0.5")
    with pytest.raises(TypeError, match="`seed` must be an integer"):
        kt.layers.MCDropout(0.5, seed=1.5)
    with pytest.raises(TypeError, match="noise_shape"):
        kt.layers.MCDropout(0.5, noise_shape=(None, 1.0))
    with pytest.raises(ValueError, match=r"noise_shape.*>= 1"):
        kt.layers.MCDropout(0.5, noise_shape=(None, 0))
