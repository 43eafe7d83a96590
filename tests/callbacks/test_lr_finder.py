"""LRFinder: exact restoration, a suggestion inside the range a closed form allows."""

import keras
import numpy as np
import pytest

import kerastricks as kt

pytestmark = pytest.mark.backend_independent


def regression(n=512, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4)).astype("float32")
    y = (x @ np.array([1.0, -2.0, 0.5, 3.0]) + 0.1 * rng.normal(size=n)).astype("float32")
    return x, y


def test_weights_and_optimizer_state_are_restored_exactly():
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.BatchNormalization(),
            keras.layers.Dropout(0.2),
            keras.layers.Dense(1),
        ]
    )
    model.compile(keras.optimizers.SGD(0.01, momentum=0.9), "mse")
    x, y = regression()
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)  # non-trivial momentum state
    variables = model.variables + model.optimizer.variables
    before = [v.numpy().copy() for v in variables]
    finder = kt.callbacks.LRFinder(1e-4, 100.0, steps=40, verbose=0)
    model.fit(x, y, batch_size=32, epochs=5, callbacks=[finder], verbose=0)
    assert 5 < len(finder.losses) <= 40  # stopped by the blow-up or after 40 steps
    for variable, value in zip(variables, before, strict=True):
        np.testing.assert_array_equal(variable.numpy(), value, err_msg=variable.path)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.01)  # float32 of 0.01


def test_suggestion_lies_below_the_divergence_rate_of_least_squares():
    # For the mean squared error of a linear model, gradient descent diverges above
    # 2 / lambda_max of the Hessian H = 2/N [X 1]^T [X 1] (closed form, NumPy below).
    x, y = regression()
    design = np.hstack([x, np.ones((len(x), 1))]).astype("float64")
    critical = 2.0 / np.linalg.eigvalsh(2.0 / len(x) * design.T @ design).max()
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.01), "mse")
    finder = kt.callbacks.LRFinder(1e-5, 10.0, steps=80, verbose=0)
    model.fit(x, y, batch_size=32, epochs=10, callbacks=[finder], verbose=0)
    # The suggestion is a tenth of the rate r at the smoothed loss's minimum. Below the
    # critical rate the raw loss falls to the noise floor (~0.01, the noise variance) while
    # the smoothed loss, which still averages the early losses of ~15, stays far above it
    # and keeps falling: r >= critical. Above it, the error along the top eigenvector grows
    # (2 c - 1)^2-fold per step at c = rate / critical, and rates grow 1.191-fold a step:
    # from the first rate above critical the factors are at least 1, 1.9, 3.4, 5.7, 9.1,
    # 14, 22, a product of 1e5 after seven steps, more than the ~1500-fold rise (0.01 to
    # 15) that lifts the raw loss over the smoothed one. So r <= 1.191^7 critical = 3.4
    # critical, and the suggestion lies in [critical / 10, 0.34 critical] (measured 0.23).
    assert critical / 10 <= finder.suggested_learning_rate <= 0.35 * critical
    # The steepest fall is searched among the rates up to the loss minimum, 10x the
    # suggestion (by definition; the factor 1 + 1e-12 covers float rounding).
    assert finder.learning_rates[0] <= finder.steepest_learning_rate
    assert finder.steepest_learning_rate <= 10 * finder.suggested_learning_rate * (1 + 1e-12)
    rates = np.asarray(finder.learning_rates)
    np.testing.assert_allclose(rates[1] / rates[0], (10.0 / 1e-5) ** (1 / 79), rtol=1e-9)


def test_plot_is_a_png(tmp_path):
    x, y = regression(128)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.01), "mse")
    path = tmp_path / "lr.png"
    finder = kt.callbacks.LRFinder(1e-4, 1.0, steps=20, plot_path=str(path), verbose=0)
    model.fit(x, y, batch_size=16, epochs=5, callbacks=[finder], verbose=0)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_schedule_is_rejected():
    x, y = regression(64)
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.9)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(schedule), "mse")
    with pytest.raises(ValueError, match="schedule"):
        model.fit(x, y, epochs=1, callbacks=[kt.callbacks.LRFinder(verbose=0)], verbose=0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"min_learning_rate": 0.0}, "min_learning_rate"),
        ({"min_learning_rate": 1.0, "max_learning_rate": 0.1}, "max_learning_rate"),
        ({"steps": 2}, "steps"),
        ({"smoothing": 1.0}, "smoothing"),
        ({"stop_factor": 1.0}, "stop_factor"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        kt.callbacks.LRFinder(**kwargs)
