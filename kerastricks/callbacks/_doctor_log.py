"""Where `TrainingDoctor` writes what it finds: `findings.jsonl` and TensorBoard summaries."""

import dataclasses
import importlib.util
import json
from pathlib import Path

__all__ = ["FindingsLog"]


class FindingsLog:
    """Appends findings to `log_dir/doctor/findings.jsonl` and writes TensorBoard summaries.

    TensorBoard files are written with `tf.summary` (as Keras's own `TensorBoard` callback
    does, on any backend) when both `tensorboard` and `tensorflow` are installed; without
    them only the JSON lines are written. With `log_dir=None` nothing is written.
    """

    def __init__(self, log_dir):
        self.folder, self._writer = None, None
        if log_dir is None:
            return
        self.folder = Path(log_dir) / "doctor"
        self.folder.mkdir(parents=True, exist_ok=True)
        if all(importlib.util.find_spec(p) for p in ("tensorboard", "tensorflow")):
            self._writer = _summary().create_file_writer(str(self.folder))

    def finding(self, finding, step):
        """Writes one finding (a `Finding`) as a JSON line and as TensorBoard text."""
        if self.folder is not None:
            with open(self.folder / "findings.jsonl", "a") as file:
                file.write(json.dumps(dataclasses.asdict(finding), default=str) + "\n")
        if self._writer is not None:
            with self._writer.as_default():
                _summary().text(f"doctor/{finding.code}", str(finding), step=step)

    def scalars(self, values, step):
        """Writes the numbers of one probe (`None` values are skipped) as scalars."""
        if self._writer is not None:
            with self._writer.as_default():
                for key, value in values.items():
                    if value is not None:
                        _summary().scalar(f"doctor/{key}", value, step=step)

    def flush(self):
        if self._writer is not None:
            self._writer.flush()


def _summary():
    import tensorflow as tf

    return tf.summary
