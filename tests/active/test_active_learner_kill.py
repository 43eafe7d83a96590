"""Kill -9 the active-learning loop mid-round, restart it, and audit the oracle's own log.

A subprocess runs `ActiveLearner.run` with an oracle that appends every call to a log
file (flushed and fsynced before it answers). The test SIGKILLs it twice:

1. while it trains a model in the middle of a round (a callback marks each epoch), and
2. inside an oracle call (the oracle hangs after logging the call, before answering),

then lets a third process finish. From the files alone (the oracle's log and the `.npz`
label batches, read with NumPy here), it checks that no index was ever asked twice, that
every answered label is on disk and correct, and that the call killed before answering
is reported as lost instead of being asked again.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r"""
import json, os, sys, time
import numpy as np
import keras
import kerastricks as kt

state_dir, oracle_log, epoch_log, hang_at_call = sys.argv[1:4] + [int(sys.argv[4])]
x = np.random.default_rng(0).normal(size=(300, 4)).astype("float32")
y = ((x[:, 0] + x[:, 1] > 0).astype("int32") + (x[:, 2] > 1)).astype("int32")


def oracle(indices):
    with open(oracle_log, "a") as f:
        f.write(json.dumps({"pid": os.getpid(), "indices": indices.tolist()}) + "\n")
        f.flush()
        os.fsync(f.fileno())
    with open(oracle_log) as f:
        calls = sum(1 for _ in f)
    if calls == hang_at_call:
        time.sleep(600)  # the test kills the process here, before the labels come back
    return y[indices]


class MarkEpochs(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        with open(epoch_log, "a") as f:
            f.write("epoch\n")
        time.sleep(0.1)


def build():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", jit_compile=False)
    return model


learner = kt.active.ActiveLearner(
    build, x, oracle, state_dir, "entropy", kt.active.LabelPlan(query_size=10, budget=50),
    kt.active.RoundTraining({"epochs": 4, "callbacks": [MarkEpochs()]}), verbose=2)
learner.run()
print("DONE", len(learner.labeled_indices), learner.lost_indices.tolist(), flush=True)
"""


def true_labels():
    x = np.random.default_rng(0).normal(size=(300, 4)).astype("float32")
    return ((x[:, 0] + x[:, 1] > 0).astype("int32") + (x[:, 2] > 1)).astype("int32")


def oracle_calls(path):
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def stored_labels(state_dir):
    """The label batches on disk, read with NumPy (no kerastricks code)."""
    indices, labels = [], []
    for path in sorted((state_dir / "labels").glob("batch_*.npz")):
        with np.load(path, allow_pickle=False) as batch:
            indices += batch["indices"].tolist()
            labels += batch["labels"].tolist()
    return indices, labels


def line_count(path):
    return len(path.read_text().splitlines()) if path.exists() else 0


def launch(tmp_path, hang_at_call):
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="")
    args = [
        sys.executable,
        str(tmp_path / "loop.py"),
        str(tmp_path / "state"),
        str(tmp_path / "oracle.log"),
        str(tmp_path / "epochs.log"),
        str(hang_at_call),
    ]
    return subprocess.Popen(
        args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def wait_for(condition, process, what):
    while not condition():
        if process.poll() is not None:
            raise AssertionError(f"the loop exited before {what}:\n{process.stdout.read()}")
        time.sleep(0.02)


def kill(process):
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    process.stdout.close()
    assert process.returncode == -signal.SIGKILL


def test_sigkill_mid_round_loses_no_label_and_never_asks_twice(tmp_path):
    (tmp_path / "loop.py").write_text(SCRIPT)
    oracle_log, epoch_log = tmp_path / "oracle.log", tmp_path / "epochs.log"
    y = true_labels()

    # 1. Kill while round 2's model trains: 3 calls answered (10 initial + 2 x 10 queried).
    process = launch(tmp_path, hang_at_call=-1)
    wait_for(lambda: len(oracle_calls(oracle_log)) >= 3, process, "the third oracle call")
    epochs = line_count(epoch_log)
    wait_for(lambda: line_count(epoch_log) > epochs, process, "training after the third call")
    kill(process)
    calls = oracle_calls(oracle_log)
    asked = [i for call in calls for i in call["indices"]]
    indices, labels = stored_labels(tmp_path / "state")
    assert len(calls) == 3 and len(asked) == len(set(asked)) == 30
    assert indices == asked, "every answered label must be on disk, in order"
    assert labels == y[indices].tolist()
    assert not (tmp_path / "state" / "pending.json").exists()

    # 2. Restart; kill inside the 4th oracle call, after the oracle logged it but before
    #    it answered. The restarted loop must not re-ask any of the 30 stored indices.
    process = launch(tmp_path, hang_at_call=4)
    wait_for(lambda: len(oracle_calls(oracle_log)) >= 4, process, "the fourth oracle call")
    time.sleep(0.2)
    kill(process)
    calls = oracle_calls(oracle_log)
    unanswered = calls[3]["indices"]
    pending = json.loads((tmp_path / "state" / "pending.json").read_text())
    assert pending == unanswered
    indices, _ = stored_labels(tmp_path / "state")
    assert len(indices) == 30 and not set(unanswered) & set(indices)

    # 3. Restart and finish the budget of 50 labels (one more call of 10).
    process = launch(tmp_path, hang_at_call=-1)
    output, _ = process.communicate(timeout=900)
    assert process.returncode == 0, output
    calls = oracle_calls(oracle_log)
    asked = [i for call in calls for i in call["indices"]]
    assert len(asked) == len(set(asked)), "the oracle was asked twice for an index"
    assert len({call["pid"] for call in calls}) == 3  # three processes asked
    indices, labels = stored_labels(tmp_path / "state")
    # Every index the oracle answered is stored with its true label; the one call that
    # was killed before answering is reported lost and counted against the budget.
    assert sorted(indices) == sorted(set(asked) - set(unanswered))
    assert labels == y[indices].tolist()
    assert len(calls) == 5 and len(indices) + len(unanswered) == 50
    lost = json.loads((tmp_path / "state" / "lost.json").read_text())
    assert lost == sorted(unanswered)
    assert f"DONE 40 {sorted(unanswered)}" in output
