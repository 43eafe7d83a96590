"""Multi-worker training with `model.fit`: two real worker processes on 127.0.0.1.

Each test starts the workers of `multi_worker_script.py` as subprocesses (a cluster of two
loopback ports found by binding to port 0), with a timeout on every wait so that a hung
collective fails the test instead of hanging the suite. The reference is the same model
trained in this process, without distribution, on the same global batches in the same order.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerastricks as kt
from kerastricks.testing.workers import free_ports
from tests.distribute import multi_worker_script as worker

SCRIPT = Path(worker.__file__)
ROOT = SCRIPT.parents[2]
TIMEOUT = 300  # seconds for any one wait: generous for a loaded 2-core machine


def _free_ports(count):
    return ",".join(str(port) for port in free_ports(count))


class Cluster:
    """Starts, waits for and kills the worker processes of one test."""

    def __init__(self, tmp_path, *args):
        self.tmp, self.args, self.ports = tmp_path, list(args), _free_ports(2)
        self.procs, self.logs = {}, []
        keras.utils.set_random_seed(0)
        initial = worker.build_model("--multi-task" in args).get_weights()
        np.savez(tmp_path / "initial.npz", *initial)

    def start(self, index, *extra):
        log = self.tmp / f"worker{index}_{len(self.logs)}.log"
        self.logs.append(log)
        command = [sys.executable, str(SCRIPT), "--index", str(index), "--ports", self.ports]
        command += ["--initial", str(self.tmp / "initial.npz"), "--output", str(self.tmp)]
        env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2")
        with open(log, "w") as out:
            self.procs[index] = subprocess.Popen(
                command + self.args + list(extra), stdout=out, stderr=subprocess.STDOUT, env=env
            )
        return self.procs[index]

    def wait(self, index, timeout=TIMEOUT):
        try:
            return self.procs[index].wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill_all()
            pytest.fail(f"worker {index} did not finish in {timeout} s\n{self.tails()}")

    def kill_all(self):
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=60)

    def tails(self):
        return "\n".join(f"--- {p.name}\n" + p.read_text()[-3000:] for p in self.logs)

    def run(self, *extra):
        """Starts both workers and waits for both; fails with their logs if one fails."""
        for index in (0, 1):
            self.start(index, *extra)
        codes = [self.wait(index) for index in (0, 1)]
        assert codes == [0, 0], f"workers exited with {codes}\n{self.tails()}"

    def results(self, index):
        weights = np.load(self.tmp / f"weights_{index}.npz")
        history = json.loads((self.tmp / f"history_{index}.json").read_text())
        return [weights[f"arr_{i}"] for i in range(len(weights.files))], history


@pytest.fixture
def cluster(tmp_path):
    clusters = []

    def make(*args):
        clusters.append(Cluster(tmp_path, *args))
        return clusters[-1]

    yield make
    for c in clusters:
        c.kill_all()


def _single_process(workers, epochs, multi_task=False, mixed_overflow=False):
    """The reference: the same model, weights, data, global batch and order, in this process.

    With `mixed_overflow`: under `mixed_float16`, on the overflowing data, with
    `kt.optimizers.LossScaleOptimizer`. Returns the weights, the losses and the steps taken.
    """
    keras.config.set_dtype_policy("mixed_float16" if mixed_overflow else "float32")
    try:
        model = worker.compile_model(worker.build_model(multi_task), mixed_overflow)
        initial = np.load(workers.tmp / "initial.npz")
        model.set_weights([initial[f"arr_{i}"] for i in range(len(initial.files))])
        x, y = worker.make_data(overflow=mixed_overflow)
        history = model.fit(
            x, y, batch_size=worker.GLOBAL_BATCH, epochs=epochs, shuffle=False, verbose=0
        )
    finally:
        keras.config.set_dtype_policy("float32")
    steps = int(model.optimizer.iterations.numpy())
    return model.get_weights(), history.history["loss"], steps


def _assert_same_weights(actual, expected, atol):
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        np.testing.assert_allclose(a, e, atol=atol, rtol=0)


# Two workers training like one process (bit-identical workers, equal to one process with
# the same global batches) is checked by the killed-worker test below on MultiTaskModel,
# and for five workflows by the composition matrix's two_workers column
# (tests/testing/test_composition_matrix.py): a test of its own repeated both.


def test_killed_worker_resumes_from_its_backup(cluster, tmp_path):
    backup = tmp_path / "backup"
    workers = cluster("--epochs", "4", "--backup", str(backup), "--multi-task")
    workers.start(0)
    victim = workers.start(1, "--pause-at", "2")  # sleeps after 2 steps of epoch 2
    deadline = time.monotonic() + TIMEOUT
    while not (tmp_path / "paused_1").exists():
        if victim.poll() is not None or time.monotonic() > deadline:
            workers.kill_all()
            pytest.fail(f"worker 1 never reached epoch 2\n{workers.tails()}")
        time.sleep(0.2)
    # Epochs 0 and 1 are backed up; the kill lands in the middle of epoch 2.
    metadata = json.loads((backup / "worker_1" / "training_metadata.json").read_text())
    assert metadata["epoch"] == 2
    victim.send_signal(signal.SIGKILL)
    assert victim.wait(timeout=60) == -signal.SIGKILL
    # The survivor's next all-reduce is aborted by TensorFlow's health check (its peer
    # stopped sending heartbeats): it exits with an error, as a cluster manager expects.
    assert workers.wait(0) != 0, workers.tails()
    assert "UnavailableError" in workers.logs[0].read_text()

    workers.run()  # the restarted cluster, without the pause
    (weights_0, history_0), (weights_1, history_1) = workers.results(0), workers.results(1)
    assert history_0["epochs"] == history_1["epochs"] == [2, 3]  # resumed the epoch it was in
    _assert_same_weights(weights_1, weights_0, atol=0)
    # Reference: four uninterrupted epochs in one process (weights, task uncertainties and
    # Adam's moments restored from the backup, so the resumed run ends where it would have).
    expected, expected_loss, _ = _single_process(workers, epochs=4, multi_task=True)
    _assert_same_weights(weights_0, expected, atol=1e-5)
    np.testing.assert_allclose(history_0["loss"], expected_loss[2:], rtol=1e-5)
    assert not list(backup.rglob("*.h5")), "BackupAndRestore deletes its files at the end"


def test_recipe_set_up_on_a_cluster(tmp_path):
    # What every recipe does first, on two workers: strategy("auto") reads TF_CONFIG (and
    # must do so before TensorFlow's runtime starts), XLA is off on CPU workers, and only
    # the chief writes into --output.
    ports, output = _free_ports(2), tmp_path / "out"
    script = SCRIPT.with_name("prepare_run_script.py")
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2")
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(i), ports, str(output)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for i in (0, 1)
    ]
    try:
        results = [p.communicate(timeout=TIMEOUT) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for p, (_, err) in zip(procs, results):
        assert p.returncode == 0, err[-3000:]
    chief, other = (json.loads(out.strip().splitlines()[-1]) for out, _ in results)
    for report in (chief, other):
        assert report["module"].startswith("kerastricks.distribute")
        assert (report["strategy"], report["replicas"]) == ("MultiWorkerMirroredStrategy", 2)
        assert report["jit_compile"] is False
    assert (chief["chief"], chief["output"]) == (True, str(output))
    assert (other["chief"], other["output"]) == (False, str(output / "worker_1"))
    assert (output / "worker_1").is_dir()


@pytest.mark.xfail(strict=True, reason="keras-team/keras#20585, tensorflow/tensorflow#72388")
def test_upstream_multi_worker_fit_still_fails(cluster):
    # tf.distribute.MultiWorkerMirroredStrategy itself: when this passes, upstream is fixed
    # and kt.distribute.MultiWorkerMirroredStrategy can be retired.
    cluster("--epochs", "1", "--upstream").run()


@pytest.mark.xfail(strict=True, reason="Keras 3.15 LossScaleOptimizer decides per worker")
def test_upstream_mixed_precision_with_overflow_on_one_worker_still_fails(cluster):
    # Keras's LossScaleOptimizer skips or applies a step from the finiteness of the *local*
    # gradients (keras/src/optimizers/loss_scale_optimizer.py, `_tf_apply`). When only
    # worker 1's scaled gradients overflow, the workers take different branches, their
    # all-reduces no longer pair up, and the collective times out (after 20 s here). When
    # this passes, mixed precision with multi-worker needs no care any more.
    cluster("--epochs", "1", "--mixed-precision", "--overflow", "--timeout", "20").run()


def test_mixed_precision_with_overflow_on_one_worker_skips_on_both(cluster):
    # MultiTaskModel under mixed_float16 on two workers, the first step overflowing on
    # worker 1 only: kt.optimizers.LossScaleOptimizer all-reduces the decision, so both
    # workers skip that step (Keras's own deadlocks: the strict xfail above), and the run
    # is the one-process run on the global batch.
    args = ["--epochs", "2", "--multi-task", "--mixed-precision", "--overflow"]
    workers = cluster(*args, "--synced-loss-scale", "--timeout", "120")
    workers.run()
    (weights_0, history_0), (weights_1, history_1) = workers.results(0), workers.results(1)
    _assert_same_weights(weights_1, weights_0, atol=0)
    assert history_0 == history_1
    expected, _, steps = _single_process(workers, epochs=2, multi_task=True, mixed_overflow=True)
    assert steps < 2 * worker.SAMPLES // worker.GLOBAL_BATCH  # at least the first was skipped
    assert history_0["iterations"] == steps
    # float16 activations and gradients, summed per worker instead of over the global
    # batch: the composition harness's mixed-precision bound, 5e-2 of the displacement.
    initial = np.load(workers.tmp / "initial.npz")
    moved = max(np.abs(e - initial[f"arr_{i}"]).max() for i, e in enumerate(expected))
    assert moved > 0
    _assert_same_weights(weights_0, expected, atol=5e-2 * moved)


def test_reduce_accepts_nests_and_scalar_logs():
    strategy = kt.distribute.MultiWorkerMirroredStrategy()  # no TF_CONFIG: one worker
    logs = {"loss": tf.constant(1.5), "pair": (tf.constant([1.0, 3.0]), None)}
    reduced = strategy.reduce("MEAN", logs, axis=0)
    assert float(reduced["loss"]) == 1.5  # a scalar: averaged over the single replica
    assert float(reduced["pair"][0]) == 2.0  # (1 + 3) / 2 along axis 0
    assert reduced["pair"][1] is None
    assert float(strategy.reduce("SUM", tf.constant(4.0))) == 4.0  # axis defaults to None


@pytest.mark.parametrize(
    "task, expected_dir, chief",
    [
        ({"type": "worker", "index": 0}, "worker_0", True),
        ({"type": "worker", "index": 1}, "worker_1", False),
    ],
)
def test_worker_dir_and_is_chief_read_tf_config(monkeypatch, task, expected_dir, chief):
    cluster = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": cluster, "task": task}))
    assert kt.distribute.worker_dir("backup") == os.path.join("backup", expected_dir)
    assert kt.distribute.is_chief() is chief


def test_worker_dir_and_is_chief_with_a_chief_task(monkeypatch):
    cluster = {"chief": ["127.0.0.1:1"], "worker": ["127.0.0.1:2"]}
    config = {"cluster": cluster, "task": {"type": "worker", "index": 0}}
    monkeypatch.setenv("TF_CONFIG", json.dumps(config))
    assert not kt.distribute.is_chief()  # worker 0 is not the chief when there is one
    config["task"] = {"type": "chief", "index": 0}
    monkeypatch.setenv("TF_CONFIG", json.dumps(config))
    assert kt.distribute.is_chief()
    assert kt.distribute.worker_dir("out") == os.path.join("out", "chief_0")


def test_single_process_gets_the_folder_itself(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert kt.distribute.worker_dir(Path("backup")) == "backup"
    assert kt.distribute.is_chief()
    assert kt.distribute.is_chief(tf.distribute.get_strategy())
