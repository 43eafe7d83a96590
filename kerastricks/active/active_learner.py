"""The active-learning loop, with its labels persisted so that a crash never loses one."""

import os

import keras
import numpy as np

from kerastricks._checks import check_int, check_type, fail
from kerastricks.active._label_store import LabelStore
from kerastricks.active._learner_labels import LabelingMixin
from kerastricks.active._learner_rounds import RoundsMixin
from kerastricks.active._learner_selection import SelectionMixin
from kerastricks.active.acquisition_registry import get_acquisition
from kerastricks.active.ensemble import Ensemble
from kerastricks.active.learner_options import resolve_options

__all__ = ["ActiveLearner"]


class ActiveLearner(RoundsMixin, LabelingMixin, SelectionMixin):
    """Pool-based active learning: train, score the pool, ask the oracle, repeat.

    Each round builds a fresh model with `model_fn`, trains it on the labels bought so far,
    scores the unlabeled pool with the acquisition function, and asks `oracle` for the
    labels of the `query_size` highest-scoring samples, until `budget` labels are spent.

    **Nothing paid for is lost.** The state lives in `state_dir`. Before each oracle call
    the indices are written to `pending.json`; the labels the oracle returns are written
    (NumPy `.npz`, never pickle; write to a temporary file, `fsync`, rename) before
    anything else happens, in particular before the next oracle call. A learner created
    on the same `state_dir` after the process was killed, at any point, resumes with every
    stored label and never asks the oracle again for a labeled index. If the process died
    *during* an oracle call, the indices of that call may have been paid for without their
    labels reaching the disk: they are reported in `lost_indices`, counted against the
    budget and never asked again; `teach` them if their labels can be recovered. One
    learner at a time may use a `state_dir` (a lock enforces it).

    **CEAL** (`RoundTraining(ceal_delta=...)`) adds each round's confident predictions as
    pseudo-labels for that round's training only; **diversity**
    (`Acquisition(diversity=...)`) spreads a batch over the embedding space. See the option
    objects `kt.active.Acquisition`, `kt.active.LabelPlan` and `kt.active.RoundTraining`.

    Reference:
        Settles, "Active Learning Literature Survey" (2009); Wang et al., "Cost-Effective
        Active Learning for Deep Image Classification" (IEEE TCSVT 2016) for CEAL; Beluch
        et al., "The power of ensembles for active learning in image classification" (CVPR
        2018).

    Args:
        model_fn: a callable with no arguments returning a new compiled `keras.Model`
            (softmax outputs) or a `kt.active.Ensemble`.
        pool: the unlabeled pool, an array `[N, ...]` of model inputs.
        oracle: a callable mapping an int64 array of pool indices to their labels (an
            array with one label per index: integers, or one-hot rows).
        state_dir: the folder holding the learner's state; created if missing.
        acquisition: what to ask about: `"random"`, a name of
            `kt.active.get_acquisition`, a callable mapping `[M, N, C]` member
            probabilities to `[N]` scores, or a `kt.active.Acquisition` (which adds
            `mc_samples` and `diversity`). Defaults to `"entropy"`.
        plan: how many labels, and when: a `kt.active.LabelPlan` (`query_size`, `budget`,
            `initial_size`, `seed`). Defaults to `None` (`LabelPlan()`: 10 per round, no
            budget).
        training: how each round trains: a `kt.active.RoundTraining` (`fit_kwargs`,
            `min_epoch_size`, CEAL's `ceal_delta` and `ceal_decay`). Defaults to `None`
            (`RoundTraining()`).
        verbose: 0 silent, 1 a progress bar over the rounds, 2 one line per round.
            Defaults to 1.
        **deprecated: the flat keywords of 0.1 (`query_size=`, `budget=`, `mc_samples=`,
            `fit_kwargs=`, ...; also `query_size` and `budget` given by position) still
            work, with a `DeprecationWarning` naming the option object that now holds
            them.

    Raises:
        TypeError: an argument has the wrong type.
        ValueError: an argument is out of range, or `state_dir` belongs to a pool of
            another size, or is in use by another learner.

    Example:

    >>> import keras, numpy as np, tempfile
    >>> import kerastricks as kt
    >>> x = np.random.default_rng(0).normal(size=(200, 2)).astype("float32")
    >>> y = (x[:, 0] > 0).astype("int32")
    >>> def build():
    ...     model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(8, "relu"),
    ...                               keras.layers.Dense(2, activation="softmax")])
    ...     model.compile("adam", "sparse_categorical_crossentropy")
    ...     return model
    >>> plan = kt.active.LabelPlan(query_size=5, budget=15)
    >>> learner = kt.active.ActiveLearner(build, x, lambda idx: y[idx], tempfile.mkdtemp(),
    ...                                   "margin", plan, verbose=0)
    >>> history = learner.run()
    >>> [entry["labels"] for entry in history], len(set(learner.labeled_indices))
    ([5, 10, 15], 15)
    """

    def __init__(
        self,
        model_fn,
        pool,
        oracle,
        state_dir,
        acquisition="entropy",
        plan=None,
        training=None,
        verbose: int = 1,
        **deprecated,
    ):
        for name, value in (("model_fn", model_fn), ("oracle", oracle)):
            if isinstance(value, keras.Model) or not callable(value):
                fail(f"`{name}` must be a function.", name, value, TypeError)
        self.model_fn, self.oracle = model_fn, oracle
        self.pool = np.asarray(pool)
        if self.pool.ndim == 0 or not len(self.pool):
            fail("`pool` must hold at least one sample.", "pool.shape", self.pool.shape)
        check_type("state_dir", state_dir, (str, os.PathLike), "a path")
        self.state_dir = state_dir
        # 0.1 took `query_size` and `budget` by position where `plan` and `training` are.
        if isinstance(plan, int) and not isinstance(plan, bool):
            deprecated["query_size"], plan = plan, None
        if isinstance(training, int) and not isinstance(training, bool):
            deprecated["budget"], training = training, None
        options = resolve_options(acquisition, plan, training, deprecated)
        self.acquisition_options, self.plan, self.training = options
        self.acquisition = self.acquisition_options.function
        self._score = None if self.acquisition == "random" else get_acquisition(self.acquisition)
        self.mc_samples = self.acquisition_options.mc_samples
        self.diversity = self.acquisition_options.diversity
        self.query_size, self.budget = self.plan.query_size, self.plan.budget
        self.initial_size, self.seed = self.plan.initial_size, self.plan.seed
        self.fit_kwargs, self.min_epoch_size = (
            self.training.fit_kwargs,
            self.training.min_epoch_size,
        )
        self.ceal_delta, self.ceal_decay = self.training.ceal_delta, self.training.ceal_decay
        self.verbose = check_int("verbose", verbose, 0, 2)
        self.model = None
        self._trained_on = None  # the label counts `model` was trained on in `run`
        self._pseudo = None  # (indices, labels) for the next round's training only
        self._store = LabelStore(state_dir, len(self.pool))
        if len(self._store.indices) and self._store.indices.max() >= len(self.pool):
            fail("`state_dir` holds indices beyond the pool.", "state_dir", str(state_dir))

    # -- state ---------------------------------------------------------------------------

    @property
    def labeled_indices(self) -> np.ndarray:
        """Pool indices with a true label, in the order they were bought."""
        return self._store.indices.copy()

    @property
    def labels(self):
        """The true labels of `labeled_indices` (`None` before the first)."""
        return None if self._store.labels is None else self._store.labels.copy()

    @property
    def lost_indices(self) -> np.ndarray:
        """Indices of an oracle call interrupted by a crash: maybe paid, never re-asked."""
        return np.array(sorted(self._store.lost), dtype=np.int64)

    @property
    def unlabeled_indices(self) -> np.ndarray:
        """Pool indices that may still be queried."""
        taken = np.zeros(len(self.pool), bool)
        taken[self._store.indices] = True
        taken[list(self._store.lost)] = True
        return np.flatnonzero(~taken)

    @property
    def labels_used(self) -> int:
        """Labels paid for: stored ones plus lost ones."""
        return len(self._store.indices) + len(self._store.lost)

    @property
    def history(self) -> list:
        """One dict per training round: `labels` (true labels trained on), `lost`,
        `labels_used` (paid for when the model was trained: `labels + lost`),
        `pseudo_labels`, validation metrics, `seconds`.

        Labels bought after the last round (the process stopped before training on them)
        count in `labels_used` now, and in the log from the next round on."""
        return list(self._store.log)

    def close(self):
        """Releases `state_dir` for another learner."""
        self._store.close()

    # -- the loop ------------------------------------------------------------------------

    def run(self, rounds=None, validation_data=None) -> list:
        """Alternates training and querying; returns the round log (`history`).

        Buys `initial_size` random labels first if none are stored, then for each round:
        trains a fresh model, evaluates it on `validation_data`, and (unless the budget
        or the pool is exhausted, or this was the last round) queries and asks the oracle
        for `query_size` labels. A restarted learner continues where the stored labels
        end: it retrains on them first, which replaces their log entry rather than adding
        a round. After an exception (an oracle failure, say), `run` again queries with the
        model already trained on the stored labels instead of retraining it. The log is
        also written to `state_dir/log.json`.

        Args:
            rounds: the number of new rounds to add to the log (models trained on newly
                bought labels). Defaults to `None` (until the budget, or the pool, is
                used up).
            validation_data: optional `(x, y)` for the per-round `accuracy` and `nll` of
                the (member-averaged) prediction, and for an ensemble or MC dropout the
                `member_accuracy`: the mean accuracy of one member (one pass) alone.

        Returns:
            The round log, `history`.
        """
        rounds = None if rounds is None else check_int("rounds", rounds, minimum=1)
        if rounds is None and self.budget is None:
            rounds = len(self.pool)  # bounded by the pool anyway
        if not len(self._store.indices):
            self._ask(self._random(self.unlabeled_indices, self._room(self.initial_size)))
        if rounds is None:  # the rounds the budget allows, for the progress bar
            rounds_left = -(-(self.budget - self.labels_used) // self.query_size) + 1
        progbar = keras.utils.Progbar(
            rounds or rounds_left,
            verbose=int(self.verbose == 1),
            stateful_metrics=["labels", "accuracy"],  # show the values, not running means
            unit_name="round",
        )
        done = 0
        while True:
            if not self._model_is_current():
                done += self._train_round(validation_data)
            k = self._room(self.query_size)
            if k == 0 or (rounds is not None and done >= rounds):
                progbar.update(done, self._progress(), finalize=True)
                return self.history
            progbar.update(done, self._progress())
            indices, probs = self._select(k)
            self._ask(indices)
            self._pseudo = self._pseudo_labels(probs, indices, self._store.log[-1]["round"])

    def train(self):
        """Builds a fresh model and fits it on the true labels (plus this round's CEAL
        pseudo-labels); returns it and keeps it as `model`."""
        if not len(self._store.indices):
            fail("There are no labels to train on yet: `run` or `teach` first.", "labels", 0)
        indices, labels = self._store.indices, self._store.labels
        if self._pseudo is not None and len(self._pseudo[0]):
            indices = np.concatenate([indices, self._pseudo[0]])
            labels = np.concatenate([labels, self._pseudo[1]])
        model = self.model_fn()
        if not isinstance(model, keras.Model | Ensemble):
            fail(
                "`model_fn` must return a compiled keras.Model or a kt.active.Ensemble.",
                "model_fn()",
                model,
                TypeError,
            )
        if isinstance(model, Ensemble) and self.mc_samples:
            fail("Use either an Ensemble or `mc_samples`, not both.", "mc_samples", self.mc_samples)
        if self.min_epoch_size:
            copies = -(-self.min_epoch_size // len(indices))
            indices, labels = np.tile(indices, copies), np.concatenate([labels] * copies)
        model.fit(self.pool[indices], labels, **self.fit_kwargs)
        self.model = model
        return model

    def query(self, k=None) -> np.ndarray:
        """Returns the `k` unlabeled pool indices to ask about next (no oracle call).

        Trains a model first if there is none yet.

        Args:
            k: how many. Defaults to `query_size`; at most the unlabeled count.

        Returns:
            An int64 array of pool indices, most informative first.
        """
        k = self.query_size if k is None else check_int("k", k, minimum=1)
        if self.model is None and (self._score is not None or self.diversity):
            self.train()
        return self._select(min(k, len(self.unlabeled_indices)))[0]

    def teach(self, indices, labels):
        """Records true labels for pool indices (written to `state_dir` at once).

        Args:
            indices: pool indices, not labeled yet (lost ones are accepted).
            labels: one label per index, numeric (integers, or one-hot rows).

        Raises:
            ValueError: an index is out of range, repeated, or already labeled; the
                labels do not match the indices or the labels stored before.
            TypeError: non-integer indices, non-numeric labels.
        """
        self._teach(indices, labels)

    def _room(self, wanted: int) -> int:
        left = len(self.unlabeled_indices)
        if self.budget is not None:
            left = min(left, self.budget - self.labels_used)
        return max(0, min(wanted, left))
