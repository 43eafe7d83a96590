"""How `ActiveLearner` trains, evaluates and logs one round (not public)."""

import time

from kerastricks.active._model_outputs import accuracy_and_nll, member_probabilities


class RoundsMixin:
    """The round log of `ActiveLearner`: one entry per set of labels trained on."""

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
