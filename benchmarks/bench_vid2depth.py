"""Training throughput of the vid2depth recipe: which parts XLA should compile.

Builds the recipe's model with the recipe's defaults (`recipes/vid2depth.py`:
disparity and pose networks, the four warps per scale, masked L1, SSIM, smoothness and
ICP losses; 64x192 frames, batch 8 windows of 3 frames, 4 scales) and times one training
step (`train_on_batch`, after compilation) three ways: the recipe's (the networks plain,
the losses' forward and backward pass XLA-compiled together, `compiled_loss`), the
whole step XLA-compiled (`jit_compile=True`, the recipe's step until the tenth session),
and nothing compiled (`--no-jit`); then the step of the pose refit that follows the
joint training (`--pose-refit-steps`: the disparity network frozen, a fresh pose network
without normalisation) against the recipe's joint step. They are called in turn, so
load from other processes hits all alike; the table shows medians. Frames per second
count every input frame of a window (3 per window). Ratios are of the recipe's step
time to the other one's: below 1, the recipe's step is faster; the refit's row is its
step time over the joint step's.

Run: `python -m benchmarks.bench_vid2depth`.
"""

import importlib.util
import statistics
import time
from pathlib import Path

import keras
import tensorflow as tf

import kerastricks as kt
from benchmarks._timing import print_rows, row

__all__ = ["run"]

# The recipe's step (networks plain, losses compiled), the whole step compiled, nothing.
MODES = ("losses", "step", "none")
RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "vid2depth.py"


def _recipe():
    spec = importlib.util.spec_from_file_location("kerastricks_recipe_vid2depth", RECIPE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run(quick: bool = False) -> list:
    """Times the training step; `quick`: a tiny model, no ICP, one repeat (a smoke test)."""
    recipe = _recipe()
    args = recipe.build_parser().parse_args([])  # the recipe's defaults
    # The smoke run leaves ICP out: its XLA compile alone took most of the test's minutes.
    variant = "no_icp" if quick else "all"
    if quick:
        args.batch_size, args.scales, args.image_size = 1, 1, [16, 48]
        args.variants = [variant]
    height, width = args.image_size
    repeats = 1 if quick else 15
    data = kt.datasets.synthetic_driving(1, 2 + args.batch_size, (height, width), seed=0)
    batch = {key: data[key][: args.batch_size] for key in ("images", "intrinsics")}
    steps = {}
    for mode in MODES:
        keras.utils.set_random_seed(0)
        args.jit_compile = mode == "losses"
        model = recipe.build_model(args, tf.distribute.get_strategy())
        model.jit_compile = mode == "step"
        model.set_variant(*recipe.variant_settings(variant, args))
        model.train_on_batch(batch)  # compiles
        steps[mode] = lambda model=model: model.train_on_batch(batch)
    # The pose refit's step, on a joint model of its own whose disparity network it freezes.
    keras.utils.set_random_seed(0)
    args.jit_compile = True
    joint = recipe.build_model(args, tf.distribute.get_strategy())
    joint.set_variant(*recipe.variant_settings(variant, args))
    joint.disparity_net.trainable = False
    refit = recipe.pose_refit_model(joint, args, tf.distribute.get_strategy(), 1000)
    refit.train_on_batch(batch)  # compiles
    steps["refit"] = lambda: refit.train_on_batch(batch)
    times = {mode: [] for mode in steps}
    for _ in range(repeats):
        for mode in steps:
            start = time.perf_counter()
            steps[mode]()
            times[mode].append(time.perf_counter() - start)
    median = {mode: statistics.median(times[mode]) for mode in steps}
    frames = 3 * args.batch_size
    size = f"{args.batch_size}x3 frames {height}x{width}, {args.scales} scales"
    return [
        row(
            f"vid2depth train step ({size}): losses XLA vs whole step XLA",
            median["losses"],
            median["step"],
            unit="s",
        ),
        row(
            f"vid2depth train step ({size}): losses XLA vs no XLA",
            median["losses"],
            median["none"],
            unit="s",
        ),
        row(
            "vid2depth training throughput: losses XLA vs no XLA",
            frames / median["losses"],
            frames / median["none"],
            unit="frames/s",
            note="ratio > 1: the recipe's step faster",
        ),
        row(
            f"vid2depth pose refit step ({size}): vs the joint step",
            median["refit"],
            median["losses"],
            unit="s",
            note="depth frozen, pose network without normalisation",
        ),
    ]


if __name__ == "__main__":
    print_rows(run())
