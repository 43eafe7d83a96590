"""LearningRateMultiplier: per-variable steps checked against NumPy optimizers written here.

The model is linear (`y = x @ W + b`, MSE), so its gradient has the closed form
`dL/dW = 2 / (N * K) * x.T @ (x @ W + b - y)`, `dL/db = 2 / (N * K) * sum(residual)`,
and every expected update below is computed in NumPy from the update rules as published
(SGD; Adam, Kingma & Ba 2015, in Keras's epsilon-hat form; AdamW's decoupled decay).
"""

import os
import re
import tempfile

import keras
import numpy as np
import pytest

import kerastricks as kt
from tests.helpers import two_device_strategy

pytestmark = pytest.mark.backend_independent

N, D, K = 16, 3, 2
RNG = np.random.default_rng(0)
X = RNG.normal(size=(N, D)).astype("float32")
Y = RNG.normal(size=(N, K)).astype("float32")


def linear_model(name="net", seed=1):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((D,)),
            keras.layers.Dense(D, name="d1", kernel_initializer="identity"),
            keras.layers.Dense(K, name="d2"),
        ],
        name=name,
    )


def numpy_grads(weights):
    """Closed-form MSE gradients of the two-layer linear model, from its weights."""
    w1, b1, w2, b2 = (w.astype(np.float64) for w in weights)
    h = X @ w1 + b1
    residual = h @ w2 + b2 - Y
    dout = 2.0 / (N * K) * residual
    dh = dout @ w2.T
    return [X.T @ dh, dh.sum(0), h.T @ dout, dout.sum(0)]


def fit(model, optimizer, steps, jit_compile=True):
    model.compile(optimizer=optimizer, loss="mse", jit_compile=jit_compile)
    model.fit(X, Y, batch_size=N, epochs=steps, verbose=0, shuffle=False)
    return [v.numpy().astype(np.float64) for v in model.weights]


MULTIPLIERS = {"d1": 0.5, "d2": 0.25}
PER_VARIABLE = [0.5, 0.5, 0.25, 0.25]  # d1/kernel, d1/bias, d2/kernel, d2/bias


def test_sgd_updates_scale_exactly_by_multiplier():
    model = linear_model()
    start = [w.numpy().astype(np.float64) for w in model.weights]
    lr = 0.1
    got = fit(model, kt.optimizers.LearningRateMultiplier("sgd", MULTIPLIERS, learning_rate=lr), 3)
    # Reference: plain gradient descent, w <- w - lr * m * g, three full-batch steps.
    expected = start
    for _ in range(3):
        grads = numpy_grads(expected)
        expected = [w - lr * m * g for w, m, g in zip(expected, PER_VARIABLE, grads, strict=True)]
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)


def test_sgd_momentum_matches_lecture_signature():
    # The lecture's call, with the Keras 2 alias `lr`: LearningRateMultiplier(SGD, ...).
    model = linear_model()
    start = [w.numpy().astype(np.float64) for w in model.weights]
    optimizer = kt.optimizers.LearningRateMultiplier(
        keras.optimizers.SGD, lr_multiplier=MULTIPLIERS, lr=0.05, momentum=0.9
    )
    got = fit(model, optimizer, 3)
    # Reference: Keras SGD momentum, v <- mu * v - lr * g; w <- w + v.
    expected, velocity = start, [np.zeros_like(w) for w in start]
    for _ in range(3):
        grads = numpy_grads(expected)
        velocity = [0.9 * v - 0.05 * m * g for v, m, g in zip(velocity, PER_VARIABLE, grads)]
        expected = [w + v for w, v in zip(expected, velocity, strict=True)]
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)


def numpy_adam(start, lr, multipliers, steps, weight_decay=0.0):
    """Adam with Keras's defaults (beta1 0.9, beta2 0.999, epsilon 1e-7), decoupled decay."""
    b1, b2, eps = 0.9, 0.999, 1e-7
    w = [x.copy() for x in start]
    m = [np.zeros_like(x) for x in w]
    v = [np.zeros_like(x) for x in w]
    for t in range(1, steps + 1):
        grads = numpy_grads(w)
        for i, g in enumerate(grads):
            rate = lr * multipliers[i]
            w[i] = w[i] - w[i] * weight_decay * rate  # decay uses the scaled rate too
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            alpha = rate * np.sqrt(1 - b2**t) / (1 - b1**t)
            w[i] = w[i] - alpha * m[i] / (np.sqrt(v[i]) + eps)
    return w


def test_adam_steps_scale_by_multiplier_not_gradient():
    model = linear_model()
    start = [w.numpy().astype(np.float64) for w in model.weights]
    got = fit(
        model, kt.optimizers.LearningRateMultiplier("adam", MULTIPLIERS, learning_rate=0.01), 4
    )
    expected = numpy_adam(start, 0.01, PER_VARIABLE, 4)
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)
    # Scaling the gradient instead would leave Adam's step unchanged: the steps differ.
    unscaled = numpy_adam(start, 0.01, [1.0] * 4, 4)
    assert not np.allclose(got[2], unscaled[2], atol=1e-4)


def test_adamw_decoupled_weight_decay_is_scaled():
    model = linear_model()
    start = [w.numpy().astype(np.float64) for w in model.weights]
    optimizer = kt.optimizers.LearningRateMultiplier(
        keras.optimizers.AdamW, MULTIPLIERS, learning_rate=0.01, weight_decay=0.5
    )
    got = fit(model, optimizer, 3)
    expected = numpy_adam(start, 0.01, PER_VARIABLE, 3, weight_decay=0.5)
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adamw", "rmsprop", "lion"])
def test_zero_multiplier_leaves_weights_bit_identical(optimizer):
    model = linear_model()
    frozen_before = [v.numpy().copy() for v in model.get_layer("d1").weights]
    wrapper = kt.optimizers.LearningRateMultiplier(optimizer, {"d1": 0.0}, learning_rate=0.1)
    fit(model, wrapper, 3)
    for before, variable in zip(frozen_before, model.get_layer("d1").weights, strict=True):
        np.testing.assert_array_equal(variable.numpy(), before)
    assert not np.array_equal(model.get_layer("d2").kernel.numpy(), 0)


def test_bad_key_raises_naming_key_and_layers():
    model = linear_model()
    wrapper = kt.optimizers.LearningRateMultiplier("sgd", {"dense_typo": 0.1, "d1": 0.5})
    model.compile(optimizer=wrapper, loss="mse")
    with pytest.raises(ValueError, match=r"\['dense_typo'\].*\['net', 'd1', 'd2'\]"):
        model.fit(X, Y, epochs=1, verbose=0)


def test_key_of_a_frozen_layer_is_reported():
    model = linear_model()
    model.get_layer("d1").trainable = False
    wrapper = kt.optimizers.LearningRateMultiplier("sgd", {"d1": 0.5})
    wrapper.build(model.trainable_variables)  # building never fails: a reload must not
    model.compile(optimizer=wrapper, loss="mse")
    with pytest.raises(ValueError, match="frozen layer"):
        model.fit(X, Y, epochs=1, verbose=0)


@pytest.mark.parametrize("value", [-0.1, float("inf"), float("nan")])
def test_bad_multipliers_rejected_at_construction(value):
    with pytest.raises(ValueError, match=r"lr_multiplier\['d1'\].*Received"):
        kt.optimizers.LearningRateMultiplier("sgd", {"d1": value})


def test_construction_errors():
    with pytest.raises(TypeError, match="optimizer_kwargs"):
        kt.optimizers.LearningRateMultiplier(keras.optimizers.SGD(), {}, momentum=0.9)
    with pytest.raises(ValueError, match="not a known Keras optimizer"):
        kt.optimizers.LearningRateMultiplier("adamm", {})
    with pytest.raises(TypeError, match="compiled regular expression"):
        kt.optimizers.LearningRateMultiplier("sgd", {3: 0.5})
    with pytest.raises(TypeError, match="must be a dict"):
        kt.optimizers.LearningRateMultiplier("sgd", [("d1", 0.5)])


def test_most_specific_key_wins():
    model = linear_model()
    keys = {"net": 0.1, "d1": 0.5, re.compile(r"kernel$"): 0.2, "d2/bias": 0.3}
    wrapper = kt.optimizers.LearningRateMultiplier("sgd", keys, learning_rate=1.0)
    wrapper.build(model.trainable_variables)
    rates = wrapper.effective_learning_rates(model)
    # By the documented rule: the match ending deepest in the path wins, then the longest.
    assert rates == pytest.approx(
        {
            "net/d1/kernel": 0.2,  # "kernel$" ends at the end of the path
            "net/d1/bias": 0.5,  # "d1" ends deeper than "net"
            "net/d2/kernel": 0.2,
            "net/d2/bias": 0.3,  # the run "d2/bias" ends at the end, and is longer
        }
    )


def test_unmatched_variables_get_one_and_schedule_is_followed():
    model = linear_model()
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, decay_steps=1, decay_rate=0.5)
    wrapper = kt.optimizers.LearningRateMultiplier("sgd", {"d2": 0.25}, learning_rate=schedule)
    fit(model, wrapper, 2)
    # After two steps the schedule gives 0.1 * 0.5**2 = 0.025.
    rates = wrapper.effective_learning_rates(model)
    assert rates["net/d1/kernel"] == pytest.approx(0.025)
    assert rates["net/d2/kernel"] == pytest.approx(0.025 * 0.25)


def test_expand_multipliers_reaches_into_functional_submodels():
    inputs = keras.Input((D,))
    backbone = keras.Model(inputs, keras.layers.Dense(4, name="feat")(inputs), name="backbone")
    x = keras.Input((D,))
    model = keras.Model(x, keras.layers.Dense(K, name="head")(backbone(x)))
    model.compile(kt.optimizers.LearningRateMultiplier("sgd", {"backbone": 0.1}), "mse")
    with pytest.raises(ValueError, match="functional sub-model"):
        model.fit(X, Y, epochs=1, verbose=0)
    keys = kt.optimizers.expand_multipliers(model, {"backbone": 0.1, "head": 2.0})
    wrapper = kt.optimizers.LearningRateMultiplier("sgd", keys, learning_rate=1.0)
    wrapper.build(model.trainable_variables)
    rates = wrapper.effective_learning_rates(model)
    assert rates == pytest.approx(
        {"feat/kernel": 0.1, "feat/bias": 0.1, "head/kernel": 2.0, "head/bias": 2.0}
    )


def test_save_and_load_keeps_multipliers_and_state():
    model = linear_model()
    keys = {"d1": 0.5, re.compile(r"d2/k"): 0.25}
    fit(model, kt.optimizers.LearningRateMultiplier("adam", keys, learning_rate=0.01), 2)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.keras")
        model.save(path)
        loaded = keras.saving.load_model(path, safe_mode=True)
    assert isinstance(loaded.optimizer, kt.optimizers.LearningRateMultiplier)
    assert loaded.optimizer.lr_multiplier == keys
    for a, b in zip(model.optimizer.variables, loaded.optimizer.variables, strict=True):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    # Training on from the loaded copy gives the same weights as training on the original.
    for m in (model, loaded):
        m.fit(X, Y, batch_size=N, epochs=2, verbose=0, shuffle=False)
    for a, b in zip(model.weights, loaded.weights, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-7)


@pytest.mark.tensorflow
def test_mirrored_strategy_matches_single_device():
    single = linear_model()
    expected = fit(single, kt.optimizers.LearningRateMultiplier("adam", MULTIPLIERS), 3)
    with two_device_strategy().scope():
        model = linear_model()
        optimizer = kt.optimizers.LearningRateMultiplier("adam", MULTIPLIERS)
        got = fit(model, optimizer, 3, jit_compile=False)
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)


# JAX: one run differed at rtol 1e-5 (not investigated yet; docs/backends.md).
@pytest.mark.tensorflow
def test_gradient_accumulation_and_mixed_precision():
    def delta(multiplier, policy=None, accumulate=None, steps=2):
        keras.config.set_dtype_policy(policy or "float32")
        try:
            model = linear_model()
            start = model.get_layer("d2").kernel.numpy().copy()
            inner = keras.optimizers.SGD(0.1, gradient_accumulation_steps=accumulate)
            wrapper = kt.optimizers.LearningRateMultiplier(inner, {"d2": multiplier})
            fit(model, wrapper, steps)
            return model.get_layer("d2").kernel.numpy() - start
        finally:
            keras.config.set_dtype_policy("float32")

    # With 2 accumulation steps, 2 batches give one averaged update, scaled by the multiplier.
    np.testing.assert_allclose(delta(0.5, accumulate=2), 0.5 * delta(1.0, accumulate=2), rtol=1e-5)
    assert np.abs(delta(1.0, accumulate=2)).max() > 0
    # mixed_float16 adds a LossScaleOptimizer around the wrapper; one step from the same
    # weights sees the same float16 gradient, so the update is exactly scaled.
    half = delta(0.5, policy="mixed_float16", steps=1)
    full = delta(1.0, policy="mixed_float16", steps=1)
    assert np.abs(full).max() > 0
    np.testing.assert_allclose(half, 0.5 * full, rtol=1e-4, atol=1e-7)
    np.testing.assert_array_equal(delta(0.0, policy="mixed_float16"), 0.0)


def test_effective_learning_rates_before_build_raises():
    wrapper = kt.optimizers.LearningRateMultiplier("sgd", {})
    with pytest.raises(ValueError, match="not built"):
        wrapper.effective_learning_rates()


def test_misspelt_optimizer_argument_is_named():
    with pytest.raises(
        TypeError, match=r"'learning_rat'.*mean 'learning_rate'.*learning_rat=0.001"
    ):
        kt.optimizers.LearningRateMultiplier("adam", {"d1": 0.5}, learning_rat=1e-3)
    with pytest.raises(TypeError, match="'momentom'"):
        kt.optimizers.LearningRateMultiplier(keras.optimizers.SGD, momentom=0.9)


def test_global_clipnorm_is_taken_over_all_groups():
    model = linear_model()
    start = [w.numpy().astype(np.float64) for w in model.weights]
    clip = 0.05  # below the first gradient's global norm (asserted), so clipping acts
    assert np.sqrt(sum((g**2).sum() for g in numpy_grads(start))) > clip
    optimizer = kt.optimizers.LearningRateMultiplier(
        keras.optimizers.SGD, MULTIPLIERS, learning_rate=0.1, global_clipnorm=clip
    )
    got = fit(model, optimizer, 2)
    # Reference: Keras's rule, g * clip / max(||g||, clip), the norm over ALL gradients
    # (one group's norm alone would clip less), then the per-variable scaled step.
    expected = start
    for _ in range(2):
        grads = numpy_grads(expected)
        norm = np.sqrt(sum((g**2).sum() for g in grads))
        grads = [g * clip / max(norm, clip) for g in grads]
        expected = [w - 0.1 * m * g for w, m, g in zip(expected, PER_VARIABLE, grads, strict=True)]
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)


@pytest.mark.tensorflow  # JAX: Keras's trainer fixes the optimizer's variables at build
def test_variables_added_later_start_fresh_state_and_keep_the_others():
    model = linear_model()
    start = [w.numpy().astype(np.float64) for w in model.weights]
    model.get_layer("d1").trainable = False
    optimizer = kt.optimizers.LearningRateMultiplier("adam", MULTIPLIERS, learning_rate=0.01)
    handle = optimizer
    model.compile(optimizer=optimizer, loss="mse")
    # As GradualUnfreezing does: the frozen layer's variables are handed over up front
    # (so its key is matched), as a second generation that steps only once unfrozen.
    optimizer.build(model.trainable_variables)
    optimizer.build(model.get_layer("d1").weights)
    model.fit(X, Y, batch_size=N, epochs=2, verbose=0, shuffle=False)
    model.get_layer("d1").trainable = True
    model.make_train_function(force=True)
    model.fit(X, Y, batch_size=N, epochs=2, verbose=0, shuffle=False)
    assert model.optimizer is handle
    # Reference: NumPy Adam where d2 steps 4 times with one state, and d1 joins at step 3
    # with zero moments and its own step count (t = 1, 2), as a fresh Adam would.
    b1, b2, eps = 0.9, 0.999, 1e-7
    w = [x.copy() for x in start]
    m = [np.zeros_like(x) for x in w]
    v = [np.zeros_like(x) for x in w]
    t = [0, 0, 0, 0]
    for step in range(4):
        grads = numpy_grads(w)
        for i, g in enumerate(grads):
            if i < 2 and step < 2:
                continue  # d1 frozen for the first two steps
            t[i] += 1
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            alpha = 0.01 * PER_VARIABLE[i] * np.sqrt(1 - b2 ** t[i]) / (1 - b1 ** t[i])
            w[i] = w[i] - alpha * m[i] / (np.sqrt(v[i]) + eps)
    for got, expected in zip(model.weights, w, strict=True):
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-5, atol=1e-6)


def test_unknown_variable_gets_a_clear_error():
    model = linear_model()
    model.get_layer("d1").trainable = False
    model.compile(kt.optimizers.LearningRateMultiplier("sgd"), "mse")
    model.fit(X, Y, epochs=1, verbose=0)
    model.get_layer("d1").trainable = True
    model.make_train_function(force=True)
    # On JAX, Keras's `stateless_apply` checks the count first, with its own message.
    if keras.backend.backend() == "jax":
        expected = "the optimizer was built with 2 variables"
    else:
        expected = r"not built with this variable.*net/d1/kernel"
    with pytest.raises(ValueError, match=expected):
        model.fit(X, Y, epochs=1, verbose=0)


@pytest.mark.tensorflow  # JAX: Keras's trainer fixes the optimizer's variables at build
def test_saved_with_a_frozen_generation_reloads_and_resumes_exactly():
    def build():
        model = linear_model()
        model.get_layer("d1").trainable = False
        optimizer = kt.optimizers.LearningRateMultiplier("adam", MULTIPLIERS, learning_rate=0.01)
        model.compile(optimizer=optimizer, loss="mse")
        optimizer.build(model.trainable_variables)
        optimizer.build(model.get_layer("d1").weights)  # a second generation, still frozen
        return model, optimizer

    model, optimizer = build()
    model.fit(X, Y, batch_size=N, epochs=1, verbose=0, shuffle=False)
    d1 = model.get_layer("d1")
    d1.trainable = True  # the second generation trains one step
    model.make_train_function(force=True)
    model.fit(X, Y, batch_size=N, epochs=1, verbose=0, shuffle=False)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.keras")
        model.save(path)
        loaded = keras.saving.load_model(path, safe_mode=True)
    # Every slot of both generations is back in place (paths differ by the auto-numbered
    # optimizer names of the new process and the model's name scope, so compare in order).
    saved, got = optimizer.variables, loaded.optimizer.variables
    # own step and rate; 2 Adam groups of 2 variables: a step count, 2 momenta, 2 velocities
    assert len(got) == len(saved) == 2 + 2 * (1 + 2 + 2)
    for a, b in zip(saved, got, strict=True):
        assert a.shape == b.shape
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)
    for m in (model, loaded):
        m.fit(X, Y, batch_size=N, epochs=2, verbose=0, shuffle=False)
    for a, b in zip(model.weights, loaded.weights, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-7)


def test_check_keys_accepts_frozen_layers_and_still_catches_typos():
    model = linear_model()
    model.get_layer("d1").trainable = False
    wrapper = kt.optimizers.LearningRateMultiplier("sgd", {"d1": 0.5, "d2": 0.25})
    wrapper.check_keys(model)  # d1 is frozen on purpose: no error, now or at the step
    model.compile(optimizer=wrapper, loss="mse")
    model.fit(X, Y, epochs=1, verbose=0)
    assert model.get_layer("d1").trainable is False  # check_keys left the flags alone
    with pytest.raises(ValueError, match=r"\['d3'\]"):
        kt.optimizers.LearningRateMultiplier("sgd", {"d3": 0.5}).check_keys(model)
