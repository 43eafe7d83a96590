"""GradualUnfreezing: the schedule, frozen weights, per-block optimizer state, save/resume.

Expected weights come from a NumPy model of the same network written here: three Dense
layers around an inference-mode BatchNormalization (fresh statistics: mean 0, variance 1,
gamma 1, beta 0, so it multiplies by 1 / sqrt(1 + 1e-3)), MSE, full-batch steps, and Adam
as published (Kingma & Ba 2015, Keras's epsilon-hat form) with one step counter per block.
"""

import os
import tempfile
import warnings

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerastricks as kt
from tests.helpers import two_device_strategy

RNG = np.random.default_rng(0)
X = RNG.normal(size=(32, 4)).astype("float32")
Y = RNG.normal(size=(32, 1)).astype("float32")
BN_SCALE = 1.0 / np.sqrt(1.0 + 1e-3)  # Keras's default epsilon


def model_with_frozen_backbone():
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(4, name="a"),
            keras.layers.BatchNormalization(name="bn"),
            keras.layers.Dense(4, name="b"),
            keras.layers.Dense(1, name="head"),
        ],
        name="net",
    )
    kt.transfer.freeze(model, until="head")
    return model


def dense_weights(model):
    return {
        name: [w.numpy().astype(np.float64) for w in model.get_layer(name).weights]
        for name in ("a", "b", "head")
    }


def numpy_grads(w):
    """Closed-form MSE gradients of head(b(bn(a(x)))) with respect to each Dense layer."""
    (wa, ba), (wb, bb), (wh, bh) = w["a"], w["b"], w["head"]
    h1 = X @ wa + ba
    h2 = h1 * BN_SCALE
    h3 = h2 @ wb + bb
    out = h3 @ wh + bh
    d_out = 2.0 * (out - Y) / out.size
    d_h3 = d_out @ wh.T
    d_h1 = (d_h3 @ wb.T) * BN_SCALE
    return {
        "head": [h3.T @ d_out, d_out.sum(0)],
        "b": [h2.T @ d_h3, d_h3.sum(0)],
        "a": [X.T @ d_h1, d_h1.sum(0)],
    }


def numpy_schedule(w, trained_at, steps, lr, multipliers):
    """Adam, one full-batch step per epoch; `trained_at[name]` is the first epoch it trains.

    Each block has its own moments and step count, starting when it is unfrozen.
    """
    b1, b2, eps = 0.9, 0.999, 1e-7
    w = {k: [x.copy() for x in v] for k, v in w.items()}
    m = {k: [np.zeros_like(x) for x in v] for k, v in w.items()}
    v = {k: [np.zeros_like(x) for x in v] for k, v in w.items()}
    t = dict.fromkeys(w, 0)
    for epoch in range(steps):
        grads = numpy_grads(w)
        for name in w:
            if epoch < trained_at[name]:
                continue
            t[name] += 1
            for i, g in enumerate(grads[name]):
                m[name][i] = b1 * m[name][i] + (1 - b1) * g
                v[name][i] = b2 * v[name][i] + (1 - b2) * g * g
                alpha = lr * multipliers[name] * np.sqrt(1 - b2 ** t[name]) / (1 - b1 ** t[name])
                w[name][i] = w[name][i] - alpha * m[name][i] / (np.sqrt(v[name][i]) + eps)
    return w


def assert_weights(model, expected):
    got = dense_weights(model)
    for name, values in expected.items():
        for g, e in zip(got[name], values, strict=True):
            # float32 training vs float64 reference over 4 Adam steps: each step moves a
            # weight by at most lr (0.01) with ~1e-7 relative error; 1e-5 bounds the sum.
            np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6, err_msg=name)


MULTIPLIERS = {"a": 0.25, "b": 0.5, "head": 1.0}


def compiled(model, jit_compile=True):
    keys = kt.optimizers.layerwise_multipliers(model, decay=0.5, include_frozen=True)
    assert keys == MULTIPLIERS  # bn stays frozen: no key
    optimizer = kt.optimizers.LearningRateMultiplier("adam", keys, learning_rate=0.01)
    model.compile(optimizer=optimizer, loss="mse", jit_compile=jit_compile)
    return optimizer


def test_schedule_and_per_block_state_match_numpy():
    model = model_with_frozen_backbone()
    start = dense_weights(model)
    bn_before = [w.numpy().copy() for w in model.get_layer("bn").weights]
    optimizer = compiled(model)
    schedule = kt.callbacks.GradualUnfreezing(["b", ["a", "bn"]], start_epoch=1, verbose=0)
    model.fit(X, Y, batch_size=32, epochs=4, verbose=0, shuffle=False, callbacks=[schedule])
    assert schedule.events == [(1, ["b"]), (2, ["a", "bn"])]
    assert model.optimizer is optimizer  # the user's handle stays the optimizer
    assert_weights(model, numpy_schedule(start, {"head": 0, "b": 1, "a": 2}, 4, 0.01, MULTIPLIERS))
    # Batch normalization stays frozen: its statistics and scale never move.
    for before, after in zip(bn_before, model.get_layer("bn").weights, strict=True):
        np.testing.assert_array_equal(after.numpy(), before)
    rates = optimizer.effective_learning_rates(model)
    assert rates["net/a/kernel"] == pytest.approx(0.01 * 0.25)


def test_saved_between_unfreezings_resumes_exactly():
    reference = model_with_frozen_backbone()
    start = dense_weights(reference)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.keras")
        model = model_with_frozen_backbone()
        compiled(model)
        first = kt.callbacks.GradualUnfreezing(["b", "a"], start_epoch=1, verbose=0)
        model.fit(X, Y, batch_size=32, epochs=2, verbose=0, shuffle=False, callbacks=[first])
        model.save(path)  # "a" is still frozen, with optimizer state of its own
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            loaded = keras.saving.load_model(path, safe_mode=True)
    # Keras warns "Skipping variable loading for optimizer" when the state does not fit.
    assert not [w for w in caught if "Skipping variable" in str(w.message)]
    second = kt.callbacks.GradualUnfreezing(["b", "a"], start_epoch=1, verbose=0)
    loaded.fit(
        X, Y, batch_size=32, initial_epoch=2, epochs=4, verbose=0, shuffle=False,
        callbacks=[second],
    )  # fmt: skip
    assert second.events == [(2, ["a"])]  # "b" was already trainable in the file
    expected = numpy_schedule(start, {"head": 0, "b": 1, "a": 2}, 4, 0.01, MULTIPLIERS)
    assert_weights(loaded, expected)


@pytest.mark.tensorflow
def test_two_replicas_match_one_device():
    # The reported bug: SGD(0.1, momentum 0.9) with the optimizer rebuilt outside the
    # strategy reached weights of 3159 on two replicas against 0.84 on one device.
    def run(strategy):
        with strategy.scope():
            model = model_with_frozen_backbone()
            optimizer = kt.optimizers.LearningRateMultiplier(
                keras.optimizers.SGD, learning_rate=0.1, momentum=0.9
            )
            model.compile(optimizer=optimizer, loss="mse", jit_compile=False)
        schedule = kt.callbacks.GradualUnfreezing(["b", "a"], start_epoch=1, verbose=0)
        model.fit(X, Y, batch_size=16, epochs=3, verbose=0, shuffle=False, callbacks=[schedule])
        return [w.numpy() for w in model.weights]

    one = run(tf.distribute.get_strategy())
    two = run(two_device_strategy())
    # Same arithmetic up to the order of a two-term float32 gradient sum: ~1e-7 relative.
    for a, b in zip(one, two, strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
    assert max(np.abs(w).max() for w in two) < 10


def test_errors():
    with pytest.raises(TypeError, match="non-empty list"):
        kt.callbacks.GradualUnfreezing([])
    with pytest.raises(ValueError, match="every"):
        kt.callbacks.GradualUnfreezing(["a"], every=0)
    model = model_with_frozen_backbone()
    model.compile(optimizer=kt.optimizers.LearningRateMultiplier("sgd"), loss="mse")
    with pytest.raises(ValueError, match="no layer of that name"):
        model.fit(X, Y, epochs=1, verbose=0, callbacks=[kt.callbacks.GradualUnfreezing(["zz"])])
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(TypeError, match=r"LearningRateMultiplier.*Received: optimizer='SGD'"):
        model.fit(X, Y, epochs=1, verbose=0, callbacks=[kt.callbacks.GradualUnfreezing(["a"])])
