"""ActiveLearner in one process: selection, CEAL, teach, persistence, restart, errors.

The process-kill test is in test_active_learner_kill.py.
"""

import json

import keras
import numpy as np
import pytest
import scipy.special

import kerastricks as kt

W = np.array([[2.0, -1.0, 0.0], [0.5, 1.5, -2.0]], "float32")


def pool_data(n=120, seed=0):
    x = np.random.default_rng(seed).normal(size=(n, 2)).astype("float32")
    return x, (x @ W).argmax(axis=1).astype("int32")


class Recorder(keras.Sequential):
    """A Sequential model that records the size of every training set it is fitted on."""

    fitted_sizes = []

    def fit(self, x=None, y=None, **kwargs):
        Recorder.fitted_sizes.append(len(x))
        return super().fit(x, y, **kwargs)


def fixed_model():
    """softmax(x @ W), frozen by a zero learning rate: its predictions are known exactly."""
    model = Recorder([keras.Input((2,)), keras.layers.Dense(3, activation="softmax")])
    model.layers[-1].set_weights([W, np.zeros(3, "float32")])
    model.compile(keras.optimizers.SGD(0.0), "sparse_categorical_crossentropy", jit_compile=False)
    return model


def trainable_model():
    model = keras.Sequential(
        [
            keras.Input((2,)),
            keras.layers.Dense(16, activation="relu"),
            kt.layers.MCDropout(0.3),
            keras.layers.Dense(3, "softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy", jit_compile=False)
    return model


class Oracle:
    def __init__(self, y):
        self.y, self.calls = y, []

    def __call__(self, indices):
        assert indices.dtype == np.int64
        self.calls.append(indices.tolist())
        return self.y[indices]

    def asked(self):
        return [i for call in self.calls for i in call]


def reference_probs(x):
    return scipy.special.softmax(x @ W, axis=1)


def reference_entropy(p):
    return -scipy.special.xlogy(p, p).sum(axis=1)


FIT = {"epochs": 1, "verbose": 0}


GROUPS = {
    "acquisition": ("mc_samples", "diversity"),
    "plan": ("query_size", "budget", "initial_size", "seed"),
    "training": ("fit_kwargs", "min_epoch_size", "ceal_delta", "ceal_decay"),
}


def grouped(acquisition="entropy", verbose=0, **flat):
    """The option objects of `ActiveLearner` from flat keywords (the 0.1 spelling)."""
    flat.setdefault("fit_kwargs", FIT)
    picked = {g: {k: flat.pop(k) for k in names if k in flat} for g, names in GROUPS.items()}
    return dict(
        acquisition=kt.active.Acquisition(acquisition, **picked["acquisition"]),
        plan=kt.active.LabelPlan(**picked["plan"]),
        training=kt.active.RoundTraining(**picked["training"]),
        verbose=verbose,
        **flat,
    )


def make(x, oracle, state_dir, acquisition="entropy", **kwargs):
    """A learner on the frozen model, with one quiet epoch per round unless overridden."""
    options = grouped(acquisition, **kwargs)
    return kt.active.ActiveLearner(fixed_model, x, oracle, state_dir, **options)


def test_queries_the_top_entropy_samples(tmp_path):
    x, y = pool_data()
    oracle = Oracle(y)
    learner = make(x, oracle, tmp_path, "entropy", query_size=7, budget=28)
    history = learner.run()
    assert [h["labels"] for h in history] == [7, 14, 21, 28]
    # Reference: with the frozen model, each round asks for the 7 unlabeled samples of
    # highest entropy of softmax(x @ W), computed here with SciPy.
    scores = reference_entropy(reference_probs(x))
    asked = set(oracle.calls[0])  # the random initial set
    for call in oracle.calls[1:]:
        unlabeled = np.array(sorted(set(range(len(x))) - asked))
        expected = unlabeled[np.argsort(-scores[unlabeled], kind="stable")[:7]]
        assert call == expected.tolist()
        asked |= set(call)
    assert len(oracle.asked()) == len(set(oracle.asked())) == 28
    np.testing.assert_array_equal(learner.labels, y[learner.labeled_indices])


def test_labels_are_npz_files_and_the_log_is_json(tmp_path):
    x, y = pool_data()
    learner = make(x, Oracle(y), tmp_path, "margin", query_size=5, budget=15)
    learner.run(validation_data=(x, y))
    files = sorted((tmp_path / "labels").glob("*.npz"))
    assert [f.name for f in files] == ["batch_000000.npz", "batch_000001.npz", "batch_000002.npz"]
    indices, labels = [], []
    for f in files:
        with np.load(f, allow_pickle=False) as batch:  # would fail on pickled objects
            indices += batch["indices"].tolist()
            labels += batch["labels"].tolist()
    assert indices == learner.labeled_indices.tolist()
    assert labels == y[indices].tolist()
    log = json.loads((tmp_path / "log.json").read_text())
    assert [entry["labels"] for entry in log] == [5, 10, 15]
    # The frozen model is exactly the labelling rule, so validation accuracy is 1, and the
    # NLL is the mean of -log max softmax(x @ W) (SciPy reference).
    assert log[-1]["accuracy"] == 1.0 and "member_accuracy" not in log[-1]
    expected_nll = -np.log(reference_probs(x).max(axis=1)).mean()
    np.testing.assert_allclose(log[-1]["nll"], expected_nll, rtol=1e-5)
    assert not (tmp_path / "pending.json").exists()
    assert not list(tmp_path.rglob("*.tmp"))


def test_restart_resumes_without_asking_twice(tmp_path):
    x, y = pool_data()
    oracle = Oracle(y)
    kwargs = grouped("random", query_size=6, budget=30)
    first = kt.active.ActiveLearner(fixed_model, x, oracle, tmp_path, **kwargs)
    first.run(rounds=2)
    stored = first.labeled_indices
    assert len(stored) == 12
    with pytest.raises(ValueError, match="in use by another ActiveLearner"):
        kt.active.ActiveLearner(fixed_model, x, oracle, tmp_path, **kwargs)
    first.close()
    second = kt.active.ActiveLearner(fixed_model, x, oracle, tmp_path, **kwargs)
    np.testing.assert_array_equal(second.labeled_indices, stored)
    second.run()
    assert len(oracle.asked()) == len(set(oracle.asked())) == 30
    # The retrained round on the same 12 labels replaces its log entry instead of adding one.
    assert [h["labels"] for h in second.history] == [6, 12, 18, 24, 30]
    second.close()
    with pytest.raises(ValueError, match="pool of 120 samples, not 100"):
        kt.active.ActiveLearner(fixed_model, x[:100], oracle, tmp_path, **kwargs)


def test_pending_call_from_a_crash_becomes_lost_and_is_never_asked(tmp_path):
    x, y = pool_data()
    learner = make(x, Oracle(y), tmp_path, "entropy", query_size=4, budget=12)
    learner.run(rounds=1)  # buys the 4 initial labels, trains, stops before querying
    pending = learner.unlabeled_indices[:3].tolist()
    learner.close()
    # What a process killed inside the oracle call leaves behind (see the kill test).
    (tmp_path / "pending.json").write_text(json.dumps(pending))
    oracle = Oracle(y)
    learner = make(x, oracle, tmp_path, "entropy", query_size=4, budget=12)
    assert learner.lost_indices.tolist() == pending
    assert learner.labels_used == 4 + 3
    learner.run()
    assert not set(pending) & set(oracle.asked())
    assert learner.labels_used == 12 and [len(c) for c in oracle.calls] == [4, 1]
    learner.teach(pending[1:2], y[pending[1:2]])  # a recovered label
    assert learner.lost_indices.tolist() == [pending[0], pending[2]]


def test_ceal_pseudo_labels_train_but_are_never_stored(tmp_path):
    x, y = pool_data(n=150)
    Recorder.fitted_sizes = []
    learner = make(
        x,
        Oracle(y),
        tmp_path,
        "least_confidence",
        query_size=5,
        budget=20,
        ceal_delta=0.3,
        ceal_decay=0.1,
    )
    history = learner.run()
    # Reference: the frozen model's entropy; after the query of round t, the unlabeled
    # samples with entropy < 0.3 - 0.1 t (not just queried) are pseudo-labeled.
    scores = reference_entropy(reference_probs(x))
    labeled = list(learner.labeled_indices)
    expected = []
    for t in range(3):
        known = set(labeled[: 10 + 5 * t])  # initial 5 + the round's query
        delta = max(0.3 - 0.1 * t, 0.0)
        expected.append(sum(1 for i in range(150) if i not in known and scores[i] < delta))
    assert [h["pseudo_labels"] for h in history] == [0] + expected
    assert expected[0] > expected[1] > 0  # the threshold decays
    assert Recorder.fitted_sizes == [h["labels"] + h["pseudo_labels"] for h in history]
    assert len(learner.labeled_indices) == 20  # pseudo-labels are not labels
    assert len(list((tmp_path / "labels").glob("*.npz"))) == 4


def test_min_epoch_size_repeats_the_training_set(tmp_path):
    x, y = pool_data(n=60)
    Recorder.fitted_sizes = []
    learner = make(x, Oracle(y), tmp_path, "random", query_size=7, budget=14, min_epoch_size=30)
    learner.run()
    # ceil(30 / 7) = 5 copies of 7 labels, then ceil(30 / 14) = 3 copies of 14.
    assert Recorder.fitted_sizes == [35, 42]


def test_member_acquisitions_need_members(tmp_path):
    x, y = pool_data(n=60)
    learner = make(x, Oracle(y), tmp_path, "bald", query_size=5, budget=15)
    with pytest.raises(ValueError, match="disagreement between members.*Ensemble"):
        learner.run()


def test_mc_dropout_ensemble_and_diversity_paths(tmp_path):
    x, y = pool_data(n=80)
    runs = {
        "mc": dict(acquisition="bald", mc_samples=4, model_fn=trainable_model),
        "ensemble": dict(
            acquisition="variation_ratio",
            model_fn=lambda: kt.active.Ensemble(trainable_model, members=2),
        ),
        "kcenter": dict(acquisition="random", diversity="kcenter", model_fn=trainable_model),
        "representative": dict(
            acquisition="entropy", diversity="representative", model_fn=trainable_model
        ),
    }
    for name, run in runs.items():
        oracle = Oracle(y)
        model_fn = run.pop("model_fn")
        options = grouped(query_size=4, budget=8, verbose=2, **run)
        learner = kt.active.ActiveLearner(model_fn, x, oracle, tmp_path / name, **options)
        history = learner.run(validation_data=(x, y))
        assert [h["labels"] for h in history] == [4, 8], name
        assert len(set(oracle.asked())) == 8, name
        assert 0.0 <= history[-1]["accuracy"] <= 1.0
        assert ("member_accuracy" in history[-1]) == (name in ("mc", "ensemble"))


def test_query_and_teach_by_hand(tmp_path):
    x, y = pool_data(n=50)
    learner = make(x, Oracle(y), tmp_path, "margin", query_size=3)
    with pytest.raises(ValueError, match="no labels to train on"):
        learner.query()
    learner.teach([0, 1, 2], y[:3])
    picked = learner.query(4)
    assert len(picked) == 4 and not set(picked.tolist()) & {0, 1, 2}
    learner.teach(picked, y[picked].astype("int64"))  # a wider int dtype is cast back
    assert learner.labels.dtype == np.int32
    with pytest.raises(ValueError, match=r"labeled already.*Received: indices=\[0\]"):
        learner.teach([0, 10], y[[0, 10]])
    with pytest.raises(ValueError, match="must not repeat"):
        learner.teach([11, 11], y[[11, 11]])
    with pytest.raises(ValueError, match=r"must lie in \[0, 50\)"):
        learner.teach([50], [1])
    with pytest.raises(TypeError, match="must be integers"):
        learner.teach([1.5], [1])
    with pytest.raises(ValueError, match=r"one label per index \(2\)"):
        learner.teach([12, 13], [1])
    with pytest.raises(ValueError, match="match the stored ones"):
        learner.teach([12], [[0.0, 1.0, 0.0]])
    with pytest.raises(TypeError, match="numeric"):
        learner.teach([12], ["cat"])


def test_bad_oracle_answers_are_lost_not_asked_again(tmp_path):
    x, y = pool_data(n=40)
    calls = []

    def short_oracle(indices):
        calls.append(indices.tolist())
        return y[indices][:-1]

    learner = make(x, short_oracle, tmp_path, "random", query_size=3)
    with pytest.raises(ValueError, match="one label per index"):
        learner.run()
    assert learner.lost_indices.tolist() == sorted(calls[0])

    def failing_oracle(indices):
        raise ConnectionError("annotation server down")

    learner.close()
    learner = make(x, failing_oracle, tmp_path, "random", query_size=3)
    with pytest.raises(ConnectionError):
        learner.run()
    # No labels came back: the call is not recorded as lost (it may be asked again).
    assert len(learner.lost_indices) == 3 and not (tmp_path / "pending.json").exists()


def test_bad_arguments(tmp_path):
    x, y = pool_data(n=10)
    new = kt.active.ActiveLearner
    with pytest.raises(TypeError, match="`model_fn` must be a function"):
        new(fixed_model(), x, Oracle(y), tmp_path)
    with pytest.raises(TypeError, match="`oracle` must be a function"):
        new(fixed_model, x, y, tmp_path)
    with pytest.raises(ValueError, match="Unknown acquisition"):
        new(fixed_model, x, Oracle(y), tmp_path, "bold")
    with pytest.raises(ValueError, match="`query_size` must be >= 1"):
        kt.active.LabelPlan(query_size=0)
    with pytest.raises(ValueError, match="`diversity` must be one of"):
        kt.active.Acquisition(diversity="coreset")
    with pytest.raises(ValueError, match="Unknown acquisition"):
        kt.active.Acquisition("bold")
    with pytest.raises(ValueError, match="`ceal_delta` must be >= 0"):
        kt.active.RoundTraining(ceal_delta=-1.0)
    with pytest.raises(ValueError, match="at least one sample"):
        new(fixed_model, x[:0], Oracle(y), tmp_path)
    with pytest.raises(TypeError, match="`fit_kwargs` must be a dict"):
        kt.active.RoundTraining(fit_kwargs=[1])
    with pytest.raises(TypeError, match="`plan` must be a kt.active.LabelPlan"):
        new(fixed_model, x, Oracle(y), tmp_path, plan={"query_size": 3})
    with pytest.raises(TypeError, match="unexpected keyword arguments \\['query_sise'\\]"):
        new(fixed_model, x, Oracle(y), tmp_path, query_sise=3)


def test_flat_keywords_of_0_1_still_work_with_a_deprecation_warning(tmp_path):
    x, y = pool_data(n=30)
    with pytest.warns(DeprecationWarning) as caught:
        learner = kt.active.ActiveLearner(
            fixed_model, x, Oracle(y), tmp_path, "margin", 5, 15,  # query_size, budget
            mc_samples=None, fit_kwargs=FIT, ceal_delta=0.01, verbose=0,
        )  # fmt: skip
    messages = sorted(str(w.message).split(" is deprecated")[0] for w in caught)
    assert messages == [
        "`ActiveLearner(budget=...)`",
        "`ActiveLearner(ceal_delta=...)`",
        "`ActiveLearner(fit_kwargs=...)`",
        "`ActiveLearner(mc_samples=...)`",
        "`ActiveLearner(query_size=...)`",
    ]
    assert any("use `plan=kt.active.LabelPlan(budget=...)`" in str(w.message) for w in caught)
    assert (learner.plan.query_size, learner.plan.budget) == (5, 15)
    assert learner.training.ceal_delta == 0.01 and learner.training.fit_kwargs["epochs"] == 1
    assert [h["labels"] for h in learner.run()] == [5, 10, 15]
    learner.close()
    with pytest.raises(TypeError, match="Pass `budget` inside `plan`"):
        kt.active.ActiveLearner(
            fixed_model, x, Oracle(y), tmp_path, plan=kt.active.LabelPlan(), budget=3
        )


def test_run_after_an_oracle_failure_adds_the_rounds_asked_for(tmp_path):
    x, y = pool_data()
    down = {"now": False}

    def oracle(indices):
        if down["now"]:
            raise ConnectionError("annotation server down")
        return y[indices]

    Recorder.fitted_sizes = []
    learner = make(x, oracle, tmp_path, "random", query_size=10)
    learner.run(rounds=2)
    down["now"] = True
    with pytest.raises(ConnectionError):
        learner.run(rounds=2)  # queries with the model trained on 20 labels: no retraining
    down["now"] = False
    learner.run(rounds=2)
    # Two new rounds (30 and 40 labels); each label set trained on exactly once. Before the
    # fix: fitted sizes [10, 20, 20, 20, 30] and the log [10, 20, 30].
    assert Recorder.fitted_sizes == [10, 20, 30, 40]
    assert [h["labels"] for h in learner.history] == [10, 20, 30, 40]
    learner.close()


def test_log_and_labels_used_agree_after_a_resume(tmp_path):
    x, y = pool_data()
    built = {"models": 0}

    def dies_in_the_third_round():
        built["models"] += 1
        if built["models"] == 3:
            raise RuntimeError("process killed while training")
        return fixed_model()

    def short_oracle(indices):  # the fourth call answers one label short: 10 lost labels
        short_oracle.calls += 1
        return y[indices][:-1] if short_oracle.calls == 4 else y[indices]

    short_oracle.calls = 0
    options = grouped("random", query_size=10)
    learner = kt.active.ActiveLearner(dies_in_the_third_round, x, short_oracle, tmp_path, **options)
    with pytest.raises(RuntimeError, match="killed"):
        learner.run(rounds=4)  # 10 and 20 labels trained on; 30 bought, then the crash
    learner.close()
    learner = kt.active.ActiveLearner(fixed_model, x, short_oracle, tmp_path, **options)
    # Bought after the last round: in labels_used now, in the log from the next round.
    assert learner.labels_used == 30 and learner.history[-1]["labels_used"] == 20
    learner.run(rounds=1)  # trains on the 30
    assert learner.history[-1]["labels_used"] == learner.labels_used == 30
    with pytest.raises(ValueError, match="one label per index"):
        learner.run(rounds=1)  # queries with that model; the short answer: 10 lost
    assert learner.labels_used == 40
    learner.run(rounds=1)  # trains on the 30 labels again, now with 10 lost
    last = learner.history[-1]
    assert (last["labels"], last["lost"], last["labels_used"]) == (30, 10, 40)
    assert last["labels_used"] == learner.labels_used
    assert [h["round"] for h in learner.history] == [0, 1, 2, 3]
    learner.close()
