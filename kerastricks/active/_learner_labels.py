"""How `ActiveLearner` records labels: `teach`, and the journaled oracle call (not public)."""

import numpy as np

from kerastricks._checks import fail


class LabelingMixin:
    """The labeling half of `ActiveLearner`: every label is stored before anything else
    happens, and an oracle call in flight is journaled (see `LabelStore`)."""

    def _teach(self, indices, labels):
        """`teach` (see there)."""
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
            self._teach(indices, answer)
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
