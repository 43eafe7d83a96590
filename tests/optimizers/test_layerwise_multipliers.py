"""layerwise_multipliers: geometric decay from the head, by layer or by named block."""

import keras
import pytest

import kerastricks as kt

pytestmark = pytest.mark.backend_independent


def blocky_model():
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.Conv2D(4, 3, name="stem_conv")(inputs)
    x = keras.layers.Conv2D(4, 3, name="block1_conv")(x)
    x = keras.layers.BatchNormalization(name="block1_bn")(x)
    x = keras.layers.ReLU(name="block1_relu")(x)  # no weights: gets no key
    x = keras.layers.Conv2D(4, 3, name="block2_conv")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = keras.layers.Dense(2, name="head")(x)
    return keras.Model(inputs, outputs)


def test_each_weighted_layer_is_a_block():
    rates = kt.optimizers.layerwise_multipliers(blocky_model(), decay=0.5)
    # Five weighted layers: the head gets 0.5**0, the first 0.5**4.
    assert rates == {
        "stem_conv": 0.0625,
        "block1_conv": 0.125,
        "block1_bn": 0.25,
        "block2_conv": 0.5,
        "head": 1.0,
    }


def test_block_pattern_groups_layers():
    rates = kt.optimizers.layerwise_multipliers(blocky_model(), 0.1, block_pattern=r"block(\d+)_")
    # Blocks: [stem_conv], [block1_conv, block1_bn], [block2_conv], [head] -> 0.1**3 .. 0.1**0.
    assert rates == pytest.approx(
        {"stem_conv": 1e-3, "block1_conv": 1e-2, "block1_bn": 1e-2, "block2_conv": 0.1, "head": 1.0}
    )


def test_nested_models_are_walked_and_frozen_layers_skipped():
    inner = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(4, name="a"), keras.layers.Dense(4, name="b")],
        name="backbone",
    )
    x = keras.Input((4,))
    model = keras.Model(x, keras.layers.Dense(2, name="head")(inner(x)))
    assert kt.optimizers.layerwise_multipliers(model, 0.5) == {"a": 0.25, "b": 0.5, "head": 1.0}
    inner.get_layer("a").trainable = False
    assert kt.optimizers.layerwise_multipliers(model, 0.5) == {"b": 0.5, "head": 1.0}
    with_frozen = kt.optimizers.layerwise_multipliers(model, 0.5, include_frozen=True)
    assert with_frozen == {"a": 0.25, "b": 0.5, "head": 1.0}
    # The keys work with the wrapper: every key matches a variable path.
    optimizer = kt.optimizers.LearningRateMultiplier("sgd", with_frozen)
    optimizer.build(model.weights)
    assert optimizer.effective_learning_rates(model)["backbone/b/kernel"] == pytest.approx(0.005)


def test_errors():
    with pytest.raises(ValueError, match="decay"):
        kt.optimizers.layerwise_multipliers(blocky_model(), decay=0.0)
    with pytest.raises(ValueError, match="one group"):
        kt.optimizers.layerwise_multipliers(blocky_model(), 0.5, block_pattern="block")
    with pytest.raises(TypeError, match="Keras model"):
        kt.optimizers.layerwise_multipliers("model", 0.5)
