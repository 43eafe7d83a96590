"""Objects that train themselves (no `model.fit` for the harness to drive) compose too.

`kt.active.Ensemble`, the `kt.active.ActiveLearner` loop and `kt.callbacks.overfit_one_batch`
run their own `fit` calls, so `kt.testing.Workflow` cannot wrap them. Each is run here on one
device in float32 (the reference), on two replicas (the session's two logical CPUs) and under
`mixed_float16`, and compared the harness's way: a difference over how far training moved
the reference, with the harness's bounds (`kerastricks/testing/composition.py`: 1e-3 for
reordered float32 sums, 5e-2 for float16 arithmetic).
"""

import contextlib

import keras
import numpy as np
import pytest

import kerastricks as kt
from tests.helpers import two_device_strategy

RNG = np.random.default_rng(0)
X = RNG.normal(size=(48, 2)).astype("float32")
Y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype("int32") + (X[:, 1] > 1).astype("int32")  # 3 classes
BOUND = {"mirrored": 1e-3, "mixed_float16": 5e-2}


@contextlib.contextmanager
def cell(name):
    """The scope of a cell: the two-replica strategy, the mixed policy, or nothing."""
    if name == "mirrored":
        with two_device_strategy().scope():
            yield
    elif name == "mixed_float16":
        keras.config.set_dtype_policy("mixed_float16")
        try:
            yield
        finally:
            keras.config.set_dtype_policy("float32")
    else:
        yield


def classifier():
    model = keras.Sequential(
        [
            keras.Input((2,)),
            keras.layers.Dense(8, activation="tanh"),
            keras.layers.Dense(3),
            keras.layers.Activation("softmax", dtype="float32"),
        ]
    )
    model.compile(keras.optimizers.Adam(0.05), "sparse_categorical_crossentropy")
    return model


def assert_close(run, reference, initial, bound):
    moved = np.max(np.abs(np.asarray(reference, np.float64) - np.asarray(initial, np.float64)))
    assert moved > 0, "training did not move the reference"
    difference = np.max(np.abs(np.asarray(run, np.float64) - np.asarray(reference, np.float64)))
    assert difference <= bound * moved, (difference, moved)


def ensemble_predictions(name):
    with cell(name):
        keras.utils.set_random_seed(0)
        ensemble = kt.active.Ensemble(classifier, members=3, mode="vectorized", seed=0)
        before = ensemble.predict(X)
        ensemble.fit(X, Y, epochs=3, batch_size=8, shuffle=False, verbose=0)
        return before, ensemble.predict(X)


@pytest.mark.parametrize("name", ["mirrored", "mixed_float16"])
def test_ensemble(name):
    before, reference = ensemble_predictions("reference")
    _, run = ensemble_predictions(name)
    assert run.shape == reference.shape == (3, len(X), 3)
    assert_close(run, reference, before, BOUND[name])


def active_learning(name, folder):
    plan = kt.active.LabelPlan(query_size=4, budget=12, initial_size=4, seed=0)
    training = kt.active.RoundTraining(
        fit_kwargs={"epochs": 3, "batch_size": 8, "shuffle": False}, min_epoch_size=16
    )

    def build():
        keras.utils.set_random_seed(0)
        return classifier()

    with cell(name):
        learner = kt.active.ActiveLearner(
            build, X, lambda idx: Y[idx], folder, "entropy", plan, training, verbose=0
        )
        history = learner.run()
    return list(learner.labeled_indices), [entry["labels"] for entry in history]


@pytest.mark.parametrize("name", ["mirrored", "mixed_float16"])
def test_active_learner_loop(name, tmp_path):
    # The same samples are bought in the same order: the entropy ranking does not change
    # under reordered sums, nor (on this pool) under float16 arithmetic.
    reference = active_learning("reference", tmp_path / "reference")
    assert reference[1] == [4, 8, 12]
    assert active_learning(name, tmp_path / name) == reference


def overfit_report(name):
    with cell(name):
        keras.utils.set_random_seed(0)
        model = classifier()
        weights = [w.copy() for w in model.get_weights()]
        report = kt.callbacks.overfit_one_batch(model, X[:16], Y[:16], steps=30)
        for restored, saved in zip(model.get_weights(), weights, strict=True):
            np.testing.assert_array_equal(restored, saved)  # put back exactly
    return report


@pytest.mark.parametrize("name", ["mirrored", "mixed_float16"])
def test_overfit_one_batch(name):
    reference = overfit_report("reference")
    run = overfit_report(name)
    assert len(run.losses) == len(reference.losses) == 30
    losses = np.asarray(reference.losses)
    assert_close(run.losses, losses, losses[0], BOUND[name])
    assert (run.fitted, run.labels_aligned) == (reference.fitted, reference.labels_aligned)
