"""Ensemble: independent members, vectorized training equals separate training."""

import keras
import numpy as np
import pytest

import kerastricks as kt
from tests.helpers import two_device_strategy


def build(width=8, seed=None, jit_compile=False):
    # jit_compile=False keeps this file fast (XLA compiles each new step function).
    def init():
        return keras.initializers.GlorotUniform(seed=seed)

    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(width, activation="relu", kernel_initializer=init()),
            keras.layers.Dense(3, activation="softmax", kernel_initializer=init()),
        ]
    )
    model.compile(
        optimizer="adam",
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        jit_compile=jit_compile,
    )
    return model


def data(n=40, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype("float32")
    return x, (x[:, 0] > 0).astype("int32") + (x[:, 1] > 1).astype("int32")


def clone_with_weights(model):
    twin = build()
    twin.set_weights(model.get_weights())
    return twin


def test_vectorized_predict_stacks_the_members():
    keras.utils.set_random_seed(0)
    ensemble = kt.active.Ensemble(build, members=3)
    assert ensemble.mode == "vectorized" and ensemble.model is not None
    x, _ = data()
    probs = ensemble.predict(x)
    # Reference: each member model's own prediction.
    expected = np.stack([m.predict(x, verbose=0) for m in ensemble.models])
    assert probs.shape == (3, 40, 3)
    np.testing.assert_allclose(probs, expected, rtol=1e-6)
    assert not np.allclose(probs[0], probs[1]), "members should start differently"


def test_vectorized_training_equals_training_each_member_alone():
    keras.utils.set_random_seed(1)
    ensemble = kt.active.Ensemble(build, members=2, bootstrap=True, seed=5)
    twins = [clone_with_weights(m) for m in ensemble.models]
    x, y = data()
    histories = ensemble.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0)
    # Reference: each member trained on its own with the same optimizer settings, and with
    # the bootstrap counts drawn exactly as documented (multinomial(N, 1/N) per member).
    rng = np.random.default_rng(5)
    for index, twin in enumerate(twins):
        weight = rng.multinomial(40, np.full(40, 1 / 40)).astype("float32")
        alone = twin.fit(
            x, y, sample_weight=weight, epochs=3, batch_size=8, shuffle=False, verbose=0
        )
        for a, b in zip(twin.get_weights(), ensemble.models[index].get_weights(), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(histories[index]["loss"], alone.history["loss"], rtol=1e-4)
        assert set(histories[index]) == {"loss", "accuracy"}


def test_bootstrap_gives_members_different_data():
    keras.utils.set_random_seed(2)
    ensemble = kt.active.Ensemble(build, members=2, bootstrap=True, seed=0)
    weights = [ensemble._member_weights(100, None) for _ in range(2)]
    for w in weights:
        assert w.sum() == 100 and (w == 0).mean() > 0.2  # ~ 1/e of samples left out
    assert not np.array_equal(weights[0], weights[1])


def test_sequential_mode_with_progress_bar_and_validation(capsys):
    keras.utils.set_random_seed(3)
    ensemble = kt.active.Ensemble(build, members=2, mode="sequential")
    assert ensemble.model is None
    x, y = data()
    histories = ensemble.fit(x, y, epochs=2, validation_data=data(10, seed=1), verbose=1)
    assert "member" in capsys.readouterr().out
    assert set(histories[0]) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert ensemble.predict(x).shape == (2, 40, 3)


def test_vectorized_validation_history_is_split_by_member_under_jit():
    keras.utils.set_random_seed(3)
    ensemble = kt.active.Ensemble(lambda: build(jit_compile=True), members=2)
    assert ensemble.model.jit_compile
    x, y = data()
    histories = ensemble.fit(x, y, epochs=2, validation_data=data(10, seed=1), verbose=0)
    assert set(histories[1]) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert len(histories[1]["val_loss"]) == 2


def test_auto_falls_back_to_sequential_for_different_architectures():
    widths = iter([4, 8, 16])
    ensemble = kt.active.Ensemble(lambda: build(width=next(widths)), members=3)
    assert ensemble.mode == "sequential"
    widths = iter([4, 8])
    with pytest.raises(ValueError, match=r"cannot train as one vectorized.*different shapes"):
        kt.active.Ensemble(lambda: build(width=next(widths)), members=2, mode="vectorized")


def test_identical_members_warn():
    with pytest.warns(UserWarning, match="identical weights"):
        kt.active.Ensemble(lambda: build(seed=1), members=2)


@pytest.mark.tensorflow
def test_mirrored_strategy():
    with two_device_strategy().scope():
        ensemble = kt.active.Ensemble(build, members=2)
    x, y = data()
    histories = ensemble.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert np.isfinite(histories[0]["loss"][0])
    assert ensemble.predict(x).shape == (2, 40, 3)


def test_bad_arguments():
    with pytest.raises(TypeError, match="`build_fn` must be a callable"):
        kt.active.Ensemble(build(), members=2)
    with pytest.raises(ValueError, match="`members` must be >= 1"):
        kt.active.Ensemble(build, members=0)
    with pytest.raises(ValueError, match="`mode` must be one of"):
        kt.active.Ensemble(build, mode="parallel")
    with pytest.raises(TypeError, match="must return a keras.Model"):
        kt.active.Ensemble(lambda: "model", members=1)
    uncompiled = lambda: keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])  # noqa: E731
    with pytest.raises(ValueError, match="compiled model"):
        kt.active.Ensemble(uncompiled, members=1)
