"""The composition matrix of docs/distribute.md: realistic workflows through every cell.

Run it as a script; it needs a fresh process (one MirroredStrategy per process):

    python -m tests.testing.composition_matrix                 # print the matrix
    python -m tests.testing.composition_matrix --markdown PATH # write it as Markdown
    python -m tests.testing.composition_matrix --json PATH     # and as JSON

The `two_workers` column comes from two worker processes on this machine
(`kt.testing.run_workers`), each running this script with `--worker-json PATH`: one
`MultiWorkerMirroredStrategy` cluster of two workers on loopback ports.

`tests/testing/test_composition_matrix.py` runs it in CI and fails on any cell that is
neither "pass" nor the known TensorFlow limit (XLA on two logical CPUs).
"""

import argparse
import json
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import kerastricks as kt  # noqa: E402
from kerastricks.testing.composition import CELLS  # noqa: E402
from tests.helpers import load_recipe  # noqa: E402

RNG = np.random.default_rng(0)


def _jit(cell):
    return cell in ("xla", "mirrored_xla")


# -- transfer learning on a real backbone ---------------------------------------------------

IMAGES = RNG.uniform(0, 1, size=(16, 32, 32, 3)).astype("float32")
CLASSES = RNG.integers(0, 3, size=16).astype("int32")
BLOCKS = [r"expanded_conv_10_"]  # unfrozen at epoch 1 (after save_resume reloads)


def _mobilenet():
    # minimalistic: no squeeze-and-excite blocks or hard-swish (102 layers instead of 156;
    # BatchNorm, depthwise convolutions and the nested backbone stay): every cell traces
    # the whole network, and its first fit took 25.5 s instead of 35.0 s.
    keras.utils.set_random_seed(0)
    backbone = keras.applications.MobileNetV3Small(
        input_shape=(32, 32, 3),
        include_top=False,
        weights=None,
        include_preprocessing=False,
        minimalistic=True,
    )
    for layer in backbone.layers:  # frozen layer by layer: the backbone stays a container
        layer.trainable = False
    inputs = keras.Input((32, 32, 3), name="image")
    features = keras.layers.GlobalAveragePooling2D(name="pool")(backbone(inputs))
    return keras.Model(inputs, keras.layers.Dense(3, name="head")(features), name="classifier")


def _block_names(model, prefix):
    backbone = model.get_layer("MobileNetV3Small")
    return [layer.name for layer in backbone.layers if layer.name.startswith(prefix)]


def build_transfer(cell):
    model = _mobilenet()
    keys = kt.optimizers.layerwise_multipliers(
        model, decay=0.5, block_pattern=r"expanded_conv_(\d+)_", include_frozen=True
    )
    optimizer = kt.optimizers.LearningRateMultiplier("adam", keys, learning_rate=1e-3)
    model.compile(
        optimizer,
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        jit_compile=_jit(cell),
    )
    return model


def transfer_callbacks():
    model = _mobilenet()  # names only: the block layers to unfreeze, head first
    blocks = [_block_names(model, prefix) for prefix in BLOCKS]
    return [kt.callbacks.GradualUnfreezing(blocks, start_epoch=1, verbose=0)]


# -- multi-task learning: cross-stitch units, learned weights, per-layer rates ----------------

MT_X = RNG.normal(size=(32, 6)).astype("float32")
MT_Y = {
    "size": (MT_X[:, :1] * 2.0 + 0.5).astype("float32"),
    "kind": (MT_X[:, 1] > 0).astype("int32"),
}


def build_multitask(cell):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6,), name="x")
    shared = keras.layers.Dense(8, activation="relu", name="backbone")(inputs)
    a = keras.layers.Dense(8, activation="relu", name="col_a")(shared)
    b = keras.layers.Dense(8, activation="relu", name="col_b")(shared)
    a, b = kt.layers.CrossStitch(name="stitch")([a, b])
    model = kt.models.MultiTaskModel(
        inputs,
        {
            "size": keras.layers.Dense(1, name="size")(a),
            "kind": keras.layers.Dense(2, name="kind")(b),
        },
        weighting="uncertainty",
    )
    optimizer = kt.optimizers.LearningRateMultiplier("adam", {"backbone": 0.1}, learning_rate=1e-2)
    model.compile(
        optimizer,
        {"size": "mse", "kind": keras.losses.SparseCategoricalCrossentropy(from_logits=True)},
        jit_compile=_jit(cell),
    )
    return model


def multitask_summary(model, callbacks):
    return {f"weight_{k}": v for k, v in model.task_weights().items()}


# -- diagnostics: the training doctor and the learning-rate finder ---------------------------

DX = RNG.normal(size=(64, 4)).astype("float32")
DY = (DX @ np.array([[1.0], [-2.0], [0.5], [3.0]], "float32")).astype("float32")


def _dense(cell, learning_rate):
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(1)],
        name="regressor",
    )
    model.compile(keras.optimizers.SGD(learning_rate), "mse", jit_compile=_jit(cell))
    return model


def doctor_callbacks():
    return [kt.callbacks.TrainingDoctor(probe_data=(DX[:16], DY[:16]), every=4, verbose=0)]


def doctor_summary(model, callbacks):
    (doctor,) = callbacks
    return {"findings": sorted(finding.code for finding in doctor.findings)}


def finder_callbacks():
    return [kt.callbacks.LRFinder(1e-4, 1.0, steps=12, verbose=0)]


def finder_summary(model, callbacks):
    (finder,) = callbacks
    return {"suggested": finder.suggested_learning_rate}


# -- a recipe's own model: the multi-task U-Net of recipes/multitask.py, tiny --------------


MULTITASK = load_recipe("multitask")
SCENES = MULTITASK.make_data(8, 16, seed=0)  # (x, y, sample_weight): masks weight one task


def build_recipe_multitask(cell):
    # SGD, not the recipe's Adam: Adam's first steps move every weight by about the
    # learning rate whatever its gradient's size, so a weight whose gradient is near zero
    # moves by +-lr on the sign of a float16 rounding, and the weights of the mixed cell
    # differ by 0.18 of the displacement while the loss agrees to 9e-4 (measured). SGD's
    # steps are proportional to the gradients, so the weights can be compared.
    keras.utils.set_random_seed(0)
    inputs, outputs = MULTITASK.build_network(16, width=4)
    model = kt.models.MultiTaskModel(inputs, outputs, weighting="uncertainty")
    optimizer = kt.optimizers.LearningRateMultiplier(
        keras.optimizers.SGD(0.05, momentum=0.9), {"uncertainty_weighting": 10.0}
    )
    model.compile(optimizer, MULTITASK.losses(), jit_compile=_jit(cell))
    return model


# The cheapest first: it is the one that finds that XLA cannot run on two logical CPUs here.
WORKFLOWS = [
    kt.testing.Workflow(
        "MultiTaskModel + CrossStitch + uncertainty + LearningRateMultiplier",
        build_multitask,
        (MT_X, MT_Y),
        epochs=2,
        batch_size=8,
        summary=multitask_summary,
    ),
    kt.testing.Workflow(
        "MobileNetV3Small (minimalistic): freeze, layerwise rates, GradualUnfreezing",
        build_transfer,
        (IMAGES, CLASSES),
        epochs=2,
        batch_size=8,
        callbacks=transfer_callbacks,
    ),
    kt.testing.Workflow(
        "TrainingDoctor (probe every 4 steps)",
        lambda cell: _dense(cell, 0.01),
        (DX, DY),
        epochs=2,
        batch_size=8,
        callbacks=doctor_callbacks,
        summary=doctor_summary,
        not_applicable={
            "save_resume": "the doctor judges the run it watched; a resumed run starts anew"
        },
    ),
    kt.testing.Workflow(
        "LRFinder (sweep, then restore)",
        lambda cell: _dense(cell, 0.01),
        (DX, DY),
        epochs=2,
        batch_size=8,
        callbacks=finder_callbacks,
        summary=finder_summary,
        not_applicable={"save_resume": "a learning-rate sweep is not resumed: it restarts"},
    ),
    kt.testing.Workflow(
        "recipes/multitask.py U-Net (16x16, BatchNorm, masked loss), uncertainty weighting",
        build_recipe_multitask,
        SCENES,
        epochs=2,
        batch_size=4,
        summary=multitask_summary,
    ),
]


def run(names=None, cells=None, workers=None):
    rows = []
    for workflow in WORKFLOWS:
        if names and not any(name in workflow.name for name in names):
            continue
        start = time.perf_counter()
        results = kt.testing.check_composition(workflow, cells, workers=workers)
        rows.append((workflow.name, results, time.perf_counter() - start))
        print(f"{workflow.name}: {time.perf_counter() - start:.0f} s", file=sys.stderr)
        for result in results:
            print(f"  {result}", file=sys.stderr)
    return rows


def _worker(path, names):
    """One worker of the two_workers column: the strategy comes first (TF_CONFIG)."""
    workers = kt.distribute.strategy("multiworker")
    rows = run(names, cells=["two_workers"], workers=workers)
    if kt.distribute.is_chief(workers):
        _write_json(path, rows)
    return 0


def _with_two_workers(rows, names):
    """Adds the two_workers cell of every row, measured by two worker processes."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "workers.json")
        start = time.perf_counter()
        script = ["-m", "tests.testing.composition_matrix", "--worker-json", path]
        kt.testing.run_workers(script + (["--only", *names] if names else []))
        print(f"two workers: {time.perf_counter() - start:.0f} s", file=sys.stderr)
        with open(path) as handle:
            measured = {row["workflow"]: row for row in json.load(handle)}
    merged = []
    for name, results, seconds in rows:
        (cell,) = measured[name]["cells"]
        merged.append((name, [*results, kt.testing.CellResult(**cell)], seconds))
        print(f"  {name}: {merged[-1][1][-1]}", file=sys.stderr)
    return merged


def _write_json(path, rows):
    payload = [
        {"workflow": name, "seconds": seconds, "cells": [r.__dict__ for r in results]}
        for name, results, seconds in rows
    ]
    with open(path, "w") as handle:
        json.dump(payload, handle, indent=1, default=str)


def markdown(rows) -> str:
    cells = list(CELLS)
    lines = [
        "| workflow | " + " | ".join(cells) + " |",
        "| --- | " + " | ".join("---" for _ in cells) + " |",
    ]
    for name, results, _ in rows:
        by_cell = {r.cell: r for r in results}
        lines.append(f"| {name} | " + " | ".join(_cell(by_cell[c]) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def _cell(result):
    if result.status in ("pass", "fail"):
        return f"{result.status} {result.largest:.1e}"
    return result.status


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", help="write the matrix as Markdown to this file")
    parser.add_argument("--json", help="write every measured difference as JSON")
    parser.add_argument("--only", nargs="*", help="workflows whose name contains these words")
    parser.add_argument("--worker-json", help=argparse.SUPPRESS)  # one worker's results
    args = parser.parse_args(argv)
    if args.worker_json:
        return _worker(args.worker_json, args.only)
    kt.distribute.split_cpu(2)
    rows = run(args.only, cells=[cell for cell in CELLS if cell != "two_workers"])
    rows = _with_two_workers(rows, args.only)
    table = markdown(rows)
    print(table)
    if args.markdown:
        with open(args.markdown, "w") as handle:
            handle.write(table)
    if args.json:
        _write_json(args.json, rows)
    bad = [
        (name, r.cell, r.status, r.message)
        for name, results, _ in rows
        for r in results
        if r.status not in ("pass", "unsupported", "n/a")
    ]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
