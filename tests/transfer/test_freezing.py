"""freeze / unfreeze: which layers train, and batch normalization stays in inference mode."""

import keras
import numpy as np
import pytest

import kerastricks as kt

pytestmark = pytest.mark.backend_independent


def small_cnn():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6, 6, 2))
    x = keras.layers.Conv2D(4, 3, name="conv1")(inputs)
    x = keras.layers.BatchNormalization(name="bn1")(x)
    x = keras.layers.Conv2D(4, 3, name="conv2")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="head")(x)
    return keras.Model(inputs, outputs)


def test_freeze_until_keeps_until_trainable():
    model = small_cnn()
    frozen = kt.transfer.freeze(model, until="conv2")
    # model.layers of a functional model starts with its InputLayer, which has no weights.
    assert frozen == [model.layers[0].name, "conv1", "bn1"]
    trainable = {layer.name: layer.trainable for layer in model.layers}
    assert trainable["conv1"] is False and trainable["bn1"] is False
    assert trainable["conv2"] and trainable["head"]
    # Only conv2 and head variables remain trainable: 2 kernels + 2 biases.
    assert sorted(v.path for v in model.trainable_variables) == [
        "conv2/bias",
        "conv2/kernel",
        "head/bias",
        "head/kernel",
    ]


def test_frozen_batchnorm_uses_moving_statistics_in_training():
    model = small_cnn()
    kt.transfer.freeze(model, until="conv2")
    bn = model.get_layer("bn1")
    before = [v.numpy().copy() for v in (bn.moving_mean, bn.moving_variance)]
    x = np.random.default_rng(0).normal(3.0, 2.0, size=(8, 6, 6, 2)).astype("float32")
    y = np.eye(3, dtype="float32")[np.arange(8) % 3]
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    model.fit(x, y, epochs=2, verbose=0)
    for a, b in zip(before, (bn.moving_mean, bn.moving_variance)):
        np.testing.assert_array_equal(b.numpy(), a)
    # In training mode the frozen layer applies the moving statistics, the inference formula:
    # (h - mean) / sqrt(var + eps) * gamma + beta, written out here in NumPy.
    sub = keras.Model(model.input, [model.get_layer("conv1").output, bn.output])
    h, out = (keras.ops.convert_to_numpy(t) for t in sub(x, training=True))
    mean, var = bn.moving_mean.numpy(), bn.moving_variance.numpy()
    reference = (h - mean) / np.sqrt(var + bn.epsilon) * bn.gamma.numpy() + bn.beta.numpy()
    np.testing.assert_allclose(out, reference, rtol=1e-5, atol=1e-5)


def test_unfreeze_keeps_batchnorm_frozen_unless_asked():
    model = small_cnn()
    kt.transfer.freeze(model)
    assert not model.trainable_variables
    changed = kt.transfer.unfreeze(model, start="conv1")
    assert changed == ["conv1", "conv2", "pool", "head"]
    assert model.get_layer("bn1").trainable is False
    kt.transfer.unfreeze(model, batchnorm=True)
    assert model.get_layer("bn1").trainable is True


def test_unfreeze_reaches_into_submodels():
    backbone = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(4, name="d"),
            keras.layers.BatchNormalization(name="bn"),
        ],
        name="backbone",
    )
    model = keras.Sequential([backbone, keras.layers.Dense(2, name="head")])
    kt.transfer.freeze(model)
    assert kt.transfer.unfreeze(model) == ["backbone", "d", "head"]
    assert backbone.get_layer("bn").trainable is False


def test_warns_when_compiled_and_errors():
    model = small_cnn()
    model.compile(optimizer="sgd", loss="mse")
    with pytest.warns(UserWarning, match="compile"):
        kt.transfer.freeze(model, until=-1)
    with pytest.raises(ValueError, match="top-level layer.*Received: until='nope'"):
        kt.transfer.freeze(model, until="nope")
    with pytest.raises(ValueError, match="index one of"):
        kt.transfer.freeze(model, until=99)
    with pytest.raises(TypeError, match="layer name or an index"):
        kt.transfer.unfreeze(model, start=1.5)
