"""How `ActiveLearner` picks the samples to ask about, and CEAL's pseudo-labels (not public)."""

import numpy as np

from kerastricks._checks import fail
from kerastricks.active._model_outputs import embeddings, member_probabilities
from kerastricks.active.acquisition_registry import needs_members
from kerastricks.active.kcenter_greedy import kcenter_greedy
from kerastricks.active.representative_batch import representative_batch
from kerastricks.active.uncertainty import entropy


class SelectionMixin:
    """The selection half of `ActiveLearner`: random draws, acquisition scores, diversity,
    and CEAL's pseudo-labels."""

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
