"""One worker of the multi-worker tests (run as a subprocess by test_multi_worker.py).

    python tests/distribute/multi_worker_script.py --index 0 --ports 41001,41002 \
        --initial init.npz --output DIR [--backup DIR] [--pause-at EPOCH] [--upstream]

Sets `TF_CONFIG` for a cluster of workers on 127.0.0.1 (one per port), builds a small
two-output model under the strategy of `kt.distribute.strategy()` (or TensorFlow's own
`MultiWorkerMirroredStrategy` with `--upstream`, to watch the upstream bug), loads the
initial weights written by the test, trains it with `model.fit` (under `mixed_float16`
with `--mixed-precision`; `--timeout S` makes a stuck collective fail after S seconds),
and writes its final weights (`weights_<index>.npz`) and epochs (`history_<index>.json`).
`--pause-at E` writes `paused_<index>` in the middle of epoch E and sleeps, so that the
test can kill the process there.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # this checkout's kerastricks

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import kerastricks as kt  # noqa: E402

SAMPLES, FEATURES, CLASSES, GLOBAL_BATCH = 64, 6, 3, 16


def make_data(overflow=False):
    """Inputs and the two targets (a regression and a 3-class label), fixed by a seed.

    With `overflow`, the regression targets of the second half of the first global batch
    (the half that worker 1 gets) are 1e4 times larger, so that under `mixed_float16` only
    worker 1's scaled gradients overflow in the first step.
    """
    rng = np.random.default_rng(0)
    x = rng.normal(size=(SAMPLES, FEATURES)).astype("float32")
    regression = (x[:, :2].sum(axis=1, keepdims=True) + 0.1).astype("float32")
    if overflow:
        regression[GLOBAL_BATCH // 2 : GLOBAL_BATCH] *= 1e4
    classes = (np.argmax(x[:, 2:5], axis=1)).astype("int32")
    return x, {"regression": regression, "classes": classes}


def build_model(multi_task: bool = False):
    """A shared trunk with a regression head and a classification head."""
    inputs = keras.Input((FEATURES,), name="features")
    hidden = keras.layers.Dense(8, activation="tanh", name="trunk")(inputs)
    outputs = {
        "regression": keras.layers.Dense(1, name="regression")(hidden),
        "classes": keras.layers.Dense(CLASSES, activation="softmax", name="classes")(hidden),
    }
    if multi_task:
        return kt.models.MultiTaskModel(inputs, outputs, name="net")
    return keras.Model(inputs, outputs, name="net")


def compile_model(model, synced_loss_scale=False):
    """Adam through `LearningRateMultiplier`: the trunk learns at half the heads' rate.

    With `synced_loss_scale`, wrapped in `kt.optimizers.LossScaleOptimizer` (mixed
    precision: every worker skips the step that overflows on one of them).
    """
    optimizer = kt.optimizers.LearningRateMultiplier(
        keras.optimizers.Adam, lr_multiplier={"trunk": 0.5}, learning_rate=0.02
    )
    if synced_loss_scale:
        optimizer = kt.optimizers.LossScaleOptimizer(optimizer)
    model.compile(
        optimizer=optimizer,
        loss={"regression": "mse", "classes": "sparse_categorical_crossentropy"},
        metrics={"classes": "accuracy"},
        jit_compile=False,
    )
    return model


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--index", type=int, required=True)
    parser.add_argument("--ports", required=True, help="comma-separated, one per worker")
    parser.add_argument("--initial", required=True, help=".npz of the initial weights")
    parser.add_argument("--output", required=True)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--backup", help="BackupAndRestore folder")
    parser.add_argument("--pause-at", type=int, help="sleep in the middle of this epoch")
    parser.add_argument("--multi-task", action="store_true")
    parser.add_argument("--upstream", action="store_true", help="tf.distribute's own strategy")
    parser.add_argument("--mixed-precision", action="store_true", help="mixed_float16 policy")
    parser.add_argument("--overflow", action="store_true", help="see make_data")
    parser.add_argument("--synced-loss-scale", action="store_true", help="see compile_model")
    parser.add_argument("--timeout", type=float, help="seconds before a collective gives up")
    args = parser.parse_args(argv)

    workers = [f"127.0.0.1:{port}" for port in args.ports.split(",")]
    os.environ["TF_CONFIG"] = json.dumps(
        {"cluster": {"worker": workers}, "task": {"type": "worker", "index": args.index}}
    )

    if args.mixed_precision:
        keras.config.set_dtype_policy("mixed_float16")
    if args.upstream:
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    elif args.timeout:
        options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=args.timeout)
        strategy = kt.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    else:
        strategy = kt.distribute.strategy("auto")
        assert isinstance(strategy, kt.distribute.MultiWorkerMirroredStrategy), strategy
    output = Path(args.output)
    with strategy.scope():
        model = compile_model(build_model(args.multi_task), args.synced_loss_scale)
        initial = np.load(args.initial)
        model.set_weights([initial[f"arr_{i}"] for i in range(len(initial.files))])

    callbacks = []
    if args.backup:
        callbacks.append(keras.callbacks.BackupAndRestore(kt.distribute.worker_dir(args.backup)))
    if args.pause_at is not None:
        callbacks.append(_Pause(args.pause_at, output / f"paused_{args.index}"))
    x, y = make_data(args.overflow)
    history = model.fit(
        x,
        y,
        batch_size=GLOBAL_BATCH,
        epochs=args.epochs,
        shuffle=False,
        verbose=0,
        callbacks=callbacks,
    )
    np.savez(output / f"weights_{args.index}.npz", *model.get_weights())
    record = {"epochs": history.epoch, "loss": history.history["loss"]}
    record["iterations"] = int(model.optimizer.iterations.numpy())
    (output / f"history_{args.index}.json").write_text(json.dumps(record))
    return 0


class _Pause(keras.callbacks.Callback):
    """In the middle of epoch `epoch` (after its second step), writes `marker` and sleeps."""

    def __init__(self, epoch, marker):
        super().__init__()
        self.epoch, self.marker, self.current = epoch, marker, None

    def on_epoch_begin(self, epoch, logs=None):
        self.current = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.current == self.epoch and batch == 1:
            self.marker.write_text(str(os.getpid()))
            time.sleep(600)


if __name__ == "__main__":
    sys.exit(main())
