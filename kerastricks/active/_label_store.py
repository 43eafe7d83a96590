"""The active learner's state on disk: every paid label, written atomically, never pickled.

Layout of `state_dir`:

- `state.json`: the pool size, checked on restart.
- `labels/batch_NNNNNN.npz`: one file per oracle answer (or `teach` call), with arrays
  `indices` (int64) and `labels`; written to a temporary file, flushed, `fsync`ed and
  renamed into place, so a file is either absent or complete.
- `pending.json`: the indices of the oracle call in flight, written before the call and
  removed once its labels are stored. Found on start-up, it means the process died during
  that call: those indices may have been paid for, so they become `lost.json` and are
  never asked again (unless `teach` supplies their labels).
- `log.json`: one entry per training round (labels used, validation metrics).
- `lock`: held (`flock`) while a learner uses the directory, so two learners cannot write
  the same batch files; the kernel releases it when the process dies, even by SIGKILL.
"""

import json
import os
import re
import sys
from pathlib import Path

import numpy as np

from kerastricks._checks import fail

__all__ = ["LabelStore"]

_BATCH = re.compile(r"^batch_(\d{6,})\.npz$")


class LabelStore:
    """Reads and writes the labels, the lost indices, the progress and the round log."""

    lock_fd = None  # the open lock file, released by close()

    def __init__(self, state_dir, pool_size: int):
        self.root = Path(state_dir)
        self.batches = self.root / "labels"
        self.batches.mkdir(parents=True, exist_ok=True)
        self.lock_fd = _lock(self.root / "lock", state_dir)
        for stale in list(self.root.glob(".*.tmp")) + list(self.batches.glob(".*.tmp")):
            stale.unlink()  # half-written files of a killed process
        state = self._read_json("state.json", None)
        if state is None:
            state = {"format": 1, "pool_size": pool_size}
            self._write_json("state.json", state)
        elif state.get("pool_size") != pool_size:
            fail(
                f"`state_dir` holds the state of a pool of {state.get('pool_size')} samples, "
                f"not {pool_size}; use a new directory for a new pool.",
                "state_dir",
                str(state_dir),
            )
        self.state = state
        self.indices, self.labels = self._read_batches()
        self.lost = set(self._read_json("lost.json", []))
        pending = self._read_json("pending.json", None)
        if pending is not None:
            self.lost |= set(pending) - set(self.indices.tolist())
            self._write_json("lost.json", sorted(self.lost))
            (self.root / "pending.json").unlink()
            _sync_dir(self.root)
        self.log = self._read_json("log.json", [])

    def close(self):
        """Releases the directory's lock."""
        if self.lock_fd is not None:
            os.close(self.lock_fd)
            self.lock_fd = None

    def __del__(self):
        self.close()

    # -- labels --------------------------------------------------------------------------

    def _read_batches(self):
        files = sorted(
            (int(m.group(1)), path)
            for path in self.batches.iterdir()
            if (m := _BATCH.match(path.name))
        )
        self._next = files[-1][0] + 1 if files else 0
        indices, labels = [], []
        for _, path in files:
            with np.load(path, allow_pickle=False) as batch:
                indices.append(batch["indices"])
                labels.append(batch["labels"])
        if not indices:
            return np.zeros(0, np.int64), None
        return np.concatenate(indices), np.concatenate(labels)

    def add(self, indices: np.ndarray, labels: np.ndarray):
        """Stores one batch of labels durably, then adds it to memory."""
        path = self.batches / f"batch_{self._next:06d}.npz"
        _atomic_write(
            path, lambda f: np.savez(f, indices=indices, labels=labels, allow_pickle=False)
        )
        self._next += 1
        self.indices = np.concatenate([self.indices, indices])
        self.labels = labels if self.labels is None else np.concatenate([self.labels, labels])
        if self.lost & set(indices.tolist()):
            self.lost -= set(indices.tolist())
            self._write_json("lost.json", sorted(self.lost))

    # -- the oracle call in flight -------------------------------------------------------

    def begin_call(self, indices: np.ndarray):
        self._write_json("pending.json", indices.tolist())

    def end_call(self, lost=()):
        """The call is over: its labels are stored, or (`lost`) they cannot be."""
        if len(lost):
            self.lost |= set(int(i) for i in lost)
            self._write_json("lost.json", sorted(self.lost))
        (self.root / "pending.json").unlink(missing_ok=True)
        _sync_dir(self.root)

    # -- round log -----------------------------------------------------------------------

    def set_log(self, log: list):
        self.log = log
        self._write_json("log.json", log)

    def _read_json(self, name, default):
        path = self.root / name
        return json.loads(path.read_text()) if path.exists() else default

    def _write_json(self, name, value):
        text = json.dumps(value, indent=1)
        _atomic_write(self.root / name, lambda f: f.write(text.encode()))


def _lock(path: Path, state_dir):
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    if sys.platform == "win32":
        return descriptor
    import fcntl

    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        fail(
            "`state_dir` is in use by another ActiveLearner (in this process or another); "
            "call its `close()` first, or use another directory.",
            "state_dir",
            str(state_dir),
        )
    return descriptor


def _atomic_write(path: Path, write):
    """Write-then-rename: `path` is either its old content or the complete new one."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(temporary, "wb") as file:
        write(file)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)
    _sync_dir(path.parent)


def _sync_dir(directory: Path):
    """Makes a rename durable (the directory entry itself is flushed)."""
    if os.name != "posix":
        return
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
