"""Training throughput of the vid2depth recipe, with and without XLA (`jit_compile`).

Builds the recipe's model with the recipe's defaults (`recipes/vid2depth.py`:
disparity and pose networks, the four warps per scale, masked L1, SSIM, smoothness and
ICP losses; 64x192 frames, batch 8 windows of 3 frames, 4 scales) and times one training
step (`train_on_batch`, after compilation) compiled with `jit_compile=True` and with
`jit_compile=False`. The two are called alternately, so load from other
processes hits both alike; the table shows medians. Frames per second count every input
frame of a window (3 per window). The ratio row is XLA / no XLA: above 1, XLA is faster.

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
    for jit in (True, False):
        keras.utils.set_random_seed(0)
        args.jit_compile = jit
        model = recipe.build_model(args, tf.distribute.get_strategy())
        model.set_variant(*recipe.variant_settings(variant, args))
        model.train_on_batch(batch)  # compiles
        steps[jit] = lambda model=model: model.train_on_batch(batch)
    times = {True: [], False: []}
    for _ in range(repeats):
        for jit in (True, False):
            start = time.perf_counter()
            steps[jit]()
            times[jit].append(time.perf_counter() - start)
    xla, plain = statistics.median(times[True]), statistics.median(times[False])
    frames = 3 * args.batch_size
    size = f"{args.batch_size}x3 frames {height}x{width}, {args.scales} scales"
    return [
        row(f"vid2depth train step ({size}) XLA vs no XLA", xla, plain, unit="s"),
        row(
            "vid2depth training throughput XLA vs no XLA",
            frames / xla,
            frames / plain,
            unit="frames/s",
            note="ratio > 1: XLA faster",
        ),
    ]


if __name__ == "__main__":
    print_rows(run())
