"""The active-learning loop, with its labels persisted so that a crash never loses one."""

import os
import time

import keras
import numpy as np

from kerastricks._checks import check_choice, check_int, check_number, check_type, fail
from kerastricks.active._label_store import LabelStore
from kerastricks.active._model_outputs import accuracy_and_nll, embeddings, member_probabilities
from kerastricks.active.acquisition_registry import get_acquisition, needs_members
from kerastricks.active.ensemble import Ensemble
from kerastricks.active.kcenter_greedy import kcenter_greedy
from kerastricks.active.representative_batch import representative_batch
from kerastricks.active.uncertainty import entropy

__all__ = ["ActiveLearner"]

_FIT_DEFAULTS = {"epochs": 10, "batch_size": 32, "verbose": 0}


class ActiveLearner:
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

    **CEAL.** With `ceal_delta`, each round also trains on the unlabeled samples whose
    predictive entropy (nats) is below `delta_t = ceal_delta - ceal_decay * t` (round
    `t`), labeled with the model's own prediction. These pseudo-labels serve that round's
    training only: they are never stored, never counted as labels, recomputed every round
    (and absent in the first round after a restart).

    **Diversity.** `diversity="kcenter"` picks the batch by greedy k-center
    (`kt.active.kcenter_greedy`) on the model's penultimate-layer embeddings, among the
    `10 x query_size` highest-scoring samples (the whole pool for `"random"`: the core-set
    method), with the labeled samples as centres. `"representative"` uses
    `kt.active.representative_batch` (Suggestive Annotation).

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
        acquisition: `"random"`, a name of `kt.active.get_acquisition`, or a callable
            mapping `[M, N, C]` member probabilities to `[N]` scores. Defaults to
            `"entropy"`.
        query_size: labels asked per round. Defaults to 10.
        budget: the total number of labels to buy, including the initial ones. Defaults
            to `None` (no limit).
        initial_size: random labels bought before the first round. Defaults to
            `query_size`.
        mc_samples: score with this many Monte Carlo dropout passes
            (`kt.active.mc_predict`) of a model with `kt.layers.MCDropout`. Defaults to
            `None` (one deterministic pass, or an ensemble's members).
        diversity: `None`, `"kcenter"` or `"representative"`. Defaults to `None` (the
            top-scoring samples).
        ceal_delta: the initial CEAL entropy threshold; `None` turns CEAL off. Defaults to
            `None`.
        ceal_decay: how much `delta` shrinks per round. Defaults to 0.0033 (the paper's
            `dr` for CACD, with `delta_0 = 0.05`).
        fit_kwargs: arguments of `model.fit` for every round. Defaults to `{"epochs": 10,
            "batch_size": 32, "verbose": 0}`, updated with what is given.
        min_epoch_size: repeat the training set (whole copies) until an epoch holds at
            least this many samples, so that the first rounds, with few labels, still take
            enough gradient steps without many short epochs (Keras' per-epoch overhead
            dominates tiny sets). Defaults to `None` (no repetition).
        seed: seed of the random draws (initial set, `"random"`), reproducible across
            restarts. Defaults to 0.
        verbose: 0 silent, 1 a progress bar over the rounds, 2 one line per round.
            Defaults to 1.

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
    >>> learner = kt.active.ActiveLearner(build, x, lambda idx: y[idx], tempfile.mkdtemp(),
    ...                                   "margin", query_size=5, budget=15, verbose=0)
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
        query_size: int = 10,
        budget=None,
        *,
        initial_size=None,
        mc_samples=None,
        diversity=None,
        ceal_delta=None,
        ceal_decay: float = 0.0033,
        fit_kwargs=None,
        min_epoch_size=None,
        seed: int = 0,
        verbose: int = 1,
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
        self.acquisition = acquisition
        self._score = None if acquisition == "random" else get_acquisition(acquisition)
        self.query_size = check_int("query_size", query_size, minimum=1)
        self.budget = None if budget is None else check_int("budget", budget, minimum=1)
        self.initial_size = check_int(
            "initial_size", query_size if initial_size is None else initial_size, minimum=1
        )
        self.mc_samples = None if mc_samples is None else check_int("mc_samples", mc_samples, 1)
        self.diversity = check_choice("diversity", diversity, (None, "kcenter", "representative"))
        self.ceal_delta = None if ceal_delta is None else check_number("ceal_delta", ceal_delta, 0)
        self.ceal_decay = check_number("ceal_decay", ceal_decay, 0)
        check_type("fit_kwargs", fit_kwargs, (dict, type(None)), "a dict or None")
        self.fit_kwargs = {**_FIT_DEFAULTS, **(fit_kwargs or {})}
        self.min_epoch_size = (
            None if min_epoch_size is None else check_int("min_epoch_size", min_epoch_size, 1)
        )
        self.seed = check_int("seed", seed)
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

    def _model_is_current(self) -> bool:
        """Whether `model` was trained in `run` on exactly the labels stored now (as after
        an oracle failure: the next `run` queries with it instead of retraining)."""
        return self.model is not None and self._trained_on == self._label_counts()

    def _label_counts(self):
        return len(self._store.indices), len(self._store.lost)

    def _train_round(self, validation_data) -> int:
        """Trains, evaluates and logs one round; returns 1 if it is a new round of the log,
        0 if it retrained on the labels of the last logged round (after a restart)."""
        start = time.perf_counter()
        self.train()
        self._trained_on = self._label_counts()
        entry = {
            "round": len(self._store.log),
            "labels": len(self._store.indices),
            "lost": len(self._store.lost),
            "labels_used": self.labels_used,
            "pseudo_labels": 0 if self._pseudo is None else len(self._pseudo[0]),
        }
        if validation_data is not None:
            x_val, y_val = validation_data[:2]
            probs = member_probabilities(self.model, x_val, self.mc_samples)
            entry.update(accuracy_and_nll(probs, y_val))
        entry["seconds"] = round(time.perf_counter() - start, 3)
        new = self._record(entry)
        if self.verbose == 2:
            print(" ".join(f"{key}={value}" for key, value in entry.items()))
        return int(new)

    def _progress(self):
        entry = self._store.log[-1] if self._store.log else {}
        return [(key, entry[key]) for key in ("labels", "accuracy") if key in entry]

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
        indices = np.asarray(indices)
        if indices.size and not np.issubdtype(indices.dtype, np.integer):
            fail("`indices` must be integers.", "indices.dtype", str(indices.dtype), TypeError)
        indices = indices.astype(np.int64).reshape(-1)
        if indices.size and (indices.min() < 0 or indices.max() >= len(self.pool)):
            fail(f"`indices` must lie in [0, {len(self.pool)}).", "indices", indices.tolist())
        if len(np.unique(indices)) != len(indices):
            fail("`indices` must not repeat.", "indices", indices.tolist())
        again = np.intersect1d(indices, self._store.indices)
        if again.size:
            fail("These indices are labeled already.", "indices", again.tolist())
        self._store.add(indices, self._check_labels(indices, labels))

    # -- internals -----------------------------------------------------------------------

    def _room(self, wanted: int) -> int:
        left = len(self.unlabeled_indices)
        if self.budget is not None:
            left = min(left, self.budget - self.labels_used)
        return max(0, min(wanted, left))

    def _random(self, candidates, k):
        rng = np.random.default_rng([self.seed, self.labels_used])  # same after a restart
        return np.sort(rng.choice(candidates, size=k, replace=False))

    def _select(self, k):
        unlabeled = self.unlabeled_indices
        if self._score is None and self.ceal_delta is None and self.diversity is None:
            return self._random(unlabeled, k), None
        probs = member_probabilities(self.model, self.pool[unlabeled], self.mc_samples)
        if self._score is None:
            scores = np.random.default_rng([self.seed, self.labels_used]).random(len(unlabeled))
        else:
            if needs_members(self._score) and len(probs) == 1:
                fail(
                    f"`{self.acquisition}` measures disagreement between members: use a "
                    "kt.active.Ensemble or `mc_samples`.",
                    "acquisition",
                    self.acquisition,
                )
            scores = np.asarray(self._score(probs), dtype=np.float64)
            if scores.shape != (len(unlabeled),) or not np.isfinite(scores).all():
                fail(
                    f"The acquisition function must return {len(unlabeled)} finite scores.",
                    "scores.shape",
                    scores.shape,
                )
        order = np.argsort(-scores, kind="stable")
        if self.diversity == "kcenter":
            candidates = order if self._score is None else order[: 10 * k]
            centers = embeddings(self.model, self.pool[self._store.indices])
            features = embeddings(self.model, self.pool[unlabeled[candidates]])
            order = candidates[kcenter_greedy(features, k, centers=centers)]
        elif self.diversity == "representative":
            features = embeddings(self.model, self.pool[unlabeled])
            order = representative_batch(scores, features, k)
        return unlabeled[order[:k]], (probs, unlabeled)

    def _ask(self, indices):
        """One oracle call, journaled: pending -> oracle -> labels stored -> done."""
        indices = np.asarray(indices, dtype=np.int64)
        if not len(indices):
            return
        self._store.begin_call(indices)
        try:
            answer = self.oracle(indices.copy())
        except BaseException:
            self._store.end_call()  # no labels came back: the indices may be asked again
            raise
        try:
            self.teach(indices, answer)
        except (TypeError, ValueError):
            self._store.end_call(lost=indices)  # answered but unusable: never ask again
            raise
        self._store.end_call()

    def _check_labels(self, indices, labels):
        labels = np.asarray(labels)
        if not (np.issubdtype(labels.dtype, np.number) or labels.dtype == bool):
            fail(
                "Labels must be numeric (class ids or one-hot rows).",
                "labels.dtype",
                str(labels.dtype),
                TypeError,
            )
        if labels.ndim == 0 or len(labels) != len(indices):
            fail(f"Expected one label per index ({len(indices)}).", "labels.shape", labels.shape)
        stored = self._store.labels
        if stored is None:
            return labels
        if labels.shape[1:] != stored.shape[1:] or not np.can_cast(
            labels.dtype, stored.dtype, "same_kind"
        ):
            fail(
                f"Labels must match the stored ones: shape (k, *{stored.shape[1:]}), dtype "
                f"{stored.dtype}.",
                "labels",
                f"shape {labels.shape}, dtype {labels.dtype}",
            )
        return labels.astype(stored.dtype)

    def _pseudo_labels(self, selection, asked, round_index):
        if self.ceal_delta is None or selection is None:
            return None
        probs, unlabeled = selection
        delta = max(self.ceal_delta - self.ceal_decay * round_index, 0.0)
        confident = (entropy(probs) < delta) & ~np.isin(unlabeled, asked)
        classes = probs.mean(axis=0)[confident].argmax(axis=-1)
        stored = self._store.labels
        if stored.ndim == 1:
            labels = classes.astype(stored.dtype)
        else:
            labels = np.eye(stored.shape[-1], dtype=stored.dtype)[classes]
        return unlabeled[confident], labels

    def _record(self, entry) -> bool:
        """Appends `entry` to the log, or replaces the last entry if it was trained on the
        same labels (a restart); returns whether it is a new round."""
        log = self.history
        same = bool(log) and (log[-1]["labels"], log[-1]["lost"]) == self._trained_on
        if same:
            entry["round"] = log[-1]["round"]
            log[-1] = entry
        else:
            log.append(entry)
        self._store.set_log(log)
        return not same
