"""XLA against no XLA for the ops of a compiled training step that `bench_geometry` leaves out.

The recipes compile their training steps (`jit_compile=True`), so each op should run at
least as fast with XLA as without. `bench_geometry.py` has these rows for SSIM (Gaussian
and 3x3 box), the projective inverse warp and ICP; this module adds, forward + backward
(gradients for every input):

- MS-SSIM (`kt.metrics.ms_ssim`, 3 scales, Gaussian 11x11), 4x128x416x3;
- edge-aware depth smoothness (`kt.losses.depth_smoothness`, `order=1` and `order=2`),
  4x128x416 depth with its 4x128x416x3 image;
- `kt.layers.ColorPropagation` with full attention and with a 9x9 window (`window_radius=4`),
  batch 4, 32x32 targets, 2 reference frames, 32-d embeddings, 16 label channels (the
  colorization recipe's working size), gradients for target and reference embeddings.

Each op runs as a `tf.function` without and with XLA, called alternately, round after
round (`bench_geometry.alternating_seconds`); the `reference` column is the same op
without XLA, and the target is 1.0 (XLA at most as slow). Notes give the ratio of median
CPU times of the process (less sensitive to a busy machine) and the load average.

Run: `python -m benchmarks.bench_compiled`.
"""

import numpy as np
import tensorflow as tf

import kerastricks as kt
from benchmarks._timing import print_rows, row
from benchmarks.bench_geometry import _gradient_step, alternating_seconds, load_average

__all__ = ["run"]

RADIUS = 4


def run(quick: bool = False) -> list:
    """Runs the benchmarks; `quick` uses tiny inputs and one repeat (a smoke test)."""
    rng = np.random.default_rng(0)
    batch, height, width = (1, 24, 64) if quick else (4, 128, 416)
    images = rng.random((batch, height, width, 3), dtype=np.float32)
    other = rng.random((batch, height, width, 3), dtype=np.float32)
    depth = rng.uniform(1.0, 50.0, (batch, height, width, 1)).astype("float32")
    size = f"{batch}x{height}x{width}"
    scales = (0.0448, 0.2856, 0.3001)  # the first three of the paper's five weights
    filter_size = 3 if quick else 11  # quick images are too small for 3 scales of 11x11
    cases = [
        (
            f"ms_ssim (3 scales) fwd+bwd {size}x3",
            lambda a, b: kt.metrics.ms_ssim(a, b, filter_size=filter_size, power_factors=scales),
            (images, other),
        ),
        (
            f"depth_smoothness order=1 fwd+bwd {size}",
            lambda i, d: kt.losses.depth_smoothness(i, d, order=1),
            (images, depth),
        ),
        (
            f"depth_smoothness order=2 fwd+bwd {size}",
            lambda i, d: kt.losses.depth_smoothness(i, d, order=2),
            (images, depth),
        ),
    ]
    frames, pixels, depth_, channels = 2, (8 if quick else 32), 32, 16
    batch = 1 if quick else 4
    embeddings = (
        rng.normal(size=(batch, pixels, pixels, depth_)).astype("float32"),
        rng.normal(size=(batch, frames, pixels, pixels, depth_)).astype("float32"),
        rng.uniform(size=(batch, frames, pixels, pixels, channels)).astype("float32"),
    )
    upstream = tf.constant(rng.normal(size=(batch, pixels, pixels, channels)), "float32")
    for radius in (None, RADIUS):
        layer = kt.layers.ColorPropagation(1.0, window_radius=radius)
        label = "full" if radius is None else f"window_radius={radius}"
        cases.append(
            (
                f"ColorPropagation {label} fwd+bwd {batch}x{pixels}x{pixels}, "
                f"{frames} refs, D={depth_}",
                # A random upstream gradient: the labels' sum over channels is constant.
                lambda t, r, c, layer=layer: layer([t, r, c]) * upstream,
                embeddings,
            )
        )
    rows = []
    for name, function, inputs in cases:
        rows.append(_xla_row(name, function, [tf.constant(x) for x in inputs], quick))
    return rows


def _xla_row(name, function, inputs, quick):
    """One row: `function` forward + backward with XLA against the same without XLA."""
    steps = [_gradient_step(function, jit) for jit in (False, True)]
    seconds, cpu = alternating_seconds(steps, inputs, 1 if quick else 9)
    return row(
        f"{name} XLA vs the same without XLA",
        seconds[1],
        seconds[0],
        None if quick else 1.0,
        note=f"CPU-time ratio {cpu[1] / cpu[0]:.2f}; load average {load_average():.1f}",
    )


if __name__ == "__main__":
    print_rows(run())
