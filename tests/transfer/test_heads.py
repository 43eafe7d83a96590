"""replace_head and extract_features."""

import keras
import numpy as np
import pytest

import kerastricks as kt

pytestmark = pytest.mark.backend_independent


def classifier():
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((5,)),
            keras.layers.Dense(6, activation="relu", name="features"),
            keras.layers.Dense(4, activation="softmax", name="old_head"),
        ],
        name="base",
    )


def test_replace_head_reads_the_old_heads_input_and_shares_weights():
    base = classifier()
    model = kt.transfer.replace_head(base, num_classes=2, dropout=0.1)
    assert model.output_shape == (None, 2)
    assert model.get_layer("features") is base.get_layer("features")
    x = np.random.default_rng(1).normal(size=(3, 5)).astype("float32")
    # Reference: relu(x W1 + b1) W2 + b2, softmax, in NumPy from the layers' weights.
    w1, b1 = (v.numpy() for v in base.get_layer("features").weights)
    w2, b2 = (v.numpy() for v in model.get_layer("head").weights)
    logits = np.maximum(x @ w1 + b1, 0) @ w2 + b2
    expected = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)


def test_replace_head_pools_feature_maps():
    inputs = keras.Input((8, 8, 3))
    backbone = keras.Model(inputs, keras.layers.Conv2D(5, 3, name="conv")(inputs))
    model = kt.transfer.replace_head(backbone, num_classes=7)
    assert model.output_shape == (None, 7)
    assert model.get_layer("head_pool") is not None


def test_extract_features_matches_the_layer_output():
    base = classifier()
    x = np.random.default_rng(2).normal(size=(50, 5)).astype("float32")
    features = kt.transfer.extract_features(base, x, batch_size=8)
    w1, b1 = (v.numpy() for v in base.get_layer("features").weights)
    np.testing.assert_allclose(features, np.maximum(x @ w1 + b1, 0), rtol=1e-5, atol=1e-6)
    probs = kt.transfer.extract_features(base, x, layer="old_head")
    assert probs.shape == (50, 4)


def test_errors():
    with pytest.raises(ValueError, match="num_classes"):
        kt.transfer.replace_head(classifier(), num_classes=0)
    with pytest.raises(ValueError, match="no layer of that name"):
        kt.transfer.replace_head(classifier(), num_classes=2, head_layer="nope")
    with pytest.raises(TypeError, match="built Keras model"):
        kt.transfer.extract_features("model", np.zeros((2, 5)))
