"""ColorPropagation: time and peak memory of full against windowed attention.

For each frame size, one target frame attends to one reference frame (B=1, R=1) with
64-dimensional embeddings and 16 label channels (the paper's 16 quantized colors and
64-d embeddings), inside a `tf.function(jit_compile=True)`, as in a compiled model.

Each row compares two configurations measured in the same run (the `reference` column
is the baseline of the ratio):

- windowed attention (radius 4, a 9x9 window) against full attention at the same size:
  the ratio is the saving the window buys;
- 128x128 against 64x64 with the same attention: the ratio shows how each scales with
  the number of pixels (4x more pixels: full attention is quadratic, the window linear).

Peak memory is the growth of the peak resident set size during the first eager call of
the layer in a fresh Python process (Linux `/proc/self/status` VmHWM, reset through
`/proc/self/clear_refs` just before the call); `nan` where that is not available.
TensorFlow keeps freed CPU memory for reuse, so only a first call in a new process shows
the peak, and an XLA-compiled first call would add the compiler's own memory.
(`run(quick=True)`, the smoke test, measures its four configurations in one process.)
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import tensorflow as tf

import kerastricks as kt
from benchmarks._timing import median_seconds, print_rows, row

RADIUS = 4
DEPTH = 64
CHANNELS = 16


def _inputs(size, seed=0):
    rng = np.random.default_rng(seed)
    target = tf.constant(rng.normal(size=(1, size, size, DEPTH)), tf.float32)
    reference = tf.constant(rng.normal(size=(1, 1, size, size, DEPTH)), tf.float32)
    labels = tf.constant(rng.uniform(size=(1, 1, size, size, CHANNELS)), tf.float32)
    return target, reference, labels


def _status_kib(key):
    text = Path("/proc/self/status").read_text()
    return int(re.search(rf"{key}:\s+(\d+)", text).group(1))


def peak_memory_mib(fn) -> float:
    """Growth of the peak resident set size while `fn()` runs, in MiB (Linux only)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
        before = _status_kib("VmRSS")
        fn()
        return (_status_kib("VmHWM") - before) / 1024.0
    except (OSError, AttributeError):
        return float("nan")


def eager_peak_memory_mib(size, radius) -> float:
    """Peak memory of one eager call (meant to run in a fresh process)."""
    layer = kt.layers.ColorPropagation(temperature=1.0, window_radius=radius)
    inputs = list(_inputs(size))
    return peak_memory_mib(lambda: layer(inputs).numpy())


_CHILD = (
    "import sys; from benchmarks.bench_tracking import eager_peak_memory_mib; "
    "configs = [c.split(':') for c in sys.argv[1:]]; "
    "print(*(eager_peak_memory_mib(int(s), None if r == 'None' else int(r)) for s, r in configs))"
)


def _memory_in_fresh_process(configs):
    """Peak memory of the first eager call of each `(size, radius)`, in one new process.

    One config per process gives the true first-call peak; after the first, TensorFlow
    reuses memory it kept, so later configs in the same process read low.
    """
    root = str(Path(__file__).resolve().parents[1])
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    result = subprocess.run(
        [sys.executable, "-c", _CHILD, *(f"{size}:{radius}" for size, radius in configs)],
        capture_output=True,
        text=True,
        cwd=root,
        env=env,
        check=True,
    )
    return [float(v) for v in result.stdout.strip().splitlines()[-1].split()]


def _seconds(size, radius, repeats):
    layer = kt.layers.ColorPropagation(temperature=1.0, window_radius=radius)
    call = tf.function(lambda a, b, c: layer([a, b, c]), jit_compile=True)
    inputs = _inputs(size)
    return median_seconds(lambda: call(*inputs).numpy(), repeats=repeats, warmup=1)


def run(quick: bool = False) -> list:
    sizes = (16, 32) if quick else (64, 128)
    repeats = 2 if quick else 7
    configs = [(s, r) for s in sizes for r in (None, RADIUS)]
    # A fresh process per configuration; the smoke run (`quick`) uses one for all four
    # (a TensorFlow import each, the most of its time): its later peaks read low.
    if quick:
        memory = _memory_in_fresh_process(configs)
    else:
        memory = [_memory_in_fresh_process([c])[0] for c in configs]
    results = {c: (_seconds(*c, repeats), m) for c, m in zip(configs, memory)}
    rows = []
    for size in sizes:
        full_s, full_mib = results[(size, None)]
        win_s, win_mib = results[(size, RADIUS)]
        note = (
            f"windowed {1 / win_s:.1f} frames/s vs full {1 / full_s:.1f} frames/s; "
            f"full logits {4 * size**4 / 2**20:.1f} MiB, windowed "
            # The window runs on T x T tiles (T = max(2r, 4)), (T + 2r)^2 logits a pixel.
            f"{4 * size**2 * (max(2 * RADIUS, 4) + 2 * RADIUS) ** 2 / 2**20:.2f} MiB"
        )
        rows.append(
            row(f"{size}x{size} windowed r={RADIUS} vs full: time", win_s, full_s, note=note)
        )
        rows.append(
            row(
                f"{size}x{size} windowed r={RADIUS} vs full: peak memory",
                win_mib,
                full_mib,
                unit="MiB",
                note="eager, first call, fresh process",
            )
        )
    small, large = sizes
    for radius, name in ((None, "full"), (RADIUS, f"windowed r={RADIUS}")):
        (small_s, small_mib), (large_s, large_mib) = (
            results[(small, radius)],
            results[(large, radius)],
        )
        rows.append(
            row(
                f"{name}: {large}x{large} vs {small}x{small}: time",
                large_s,
                small_s,
                note="4x the pixels",
            )
        )
        rows.append(
            row(
                f"{name}: {large}x{large} vs {small}x{small}: peak memory",
                large_mib,
                small_mib,
                unit="MiB",
                note="4x the pixels",
            )
        )
    return rows


if __name__ == "__main__":
    print_rows(run())
