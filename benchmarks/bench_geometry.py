"""Speed of SSIM, the projective inverse warp and ICP against reference implementations.

On one set of inputs, the KITTI size vid2depth trained at (batch 4, 128x416x3):

- forward + backward (gradients for both images) of `kt.metrics.ssim` against
  `tf.image.ssim`; target: at most 0.5x; and of its 3x3 box map against vid2depth's
  average-pooling SSIM (for information);
- forward + backward (gradients for image, depth and pose) of
  `kt.geometry.projective_inverse_warp` against a vid2depth-style warp with
  gather-based bilinear sampling (`benchmarks/vid2depth_reference.py`); target: at
  most 0.8x;
- ICP on 8k-point clouds (20 iterations) against SciPy `cKDTree` + NumPy Kabsch, with
  the difference of the transforms; target: at most 2x with the grid search under XLA
  (recipes compile their steps), with brute force on 1024 sampled points for comparison.

Each op runs as a `tf.function` without and with XLA (`jit_compile=True`), ours and the
reference alike; the targets under XLA are at most 0.8x the reference under XLA and at
most 1.0x ours without XLA. All variants of one op are called in turn, round after round,
so load from other processes hits them alike; the table shows median wall times, and each
note the ratio of median CPU times of the process (less sensitive to a busy machine) and
the load average at the end.

Run: `python -m benchmarks.bench_geometry`.
"""

import statistics
import time

import numpy as np
import tensorflow as tf

import kerastricks as kt
from benchmarks import vid2depth_reference as reference
from benchmarks._timing import print_rows, row

__all__ = ["run"]


def run(quick: bool = False) -> list:
    """Runs the benchmarks; `quick` uses tiny inputs and few repeats (a smoke test)."""
    batch, height, width = (1, 24, 64) if quick else (4, 128, 416)
    repeats = 1 if quick else 15
    rng = np.random.default_rng(0)
    images = tf.constant(rng.random((batch, height, width, 3), dtype=np.float32))
    other = tf.constant(rng.random((batch, height, width, 3), dtype=np.float32))
    size = f"{batch}x{height}x{width}x3"
    rows = []
    pairs = [
        ("ssim", lambda a, b: kt.metrics.ssim(a, b), lambda a, b: tf.image.ssim(a, b, 1.0)),
        (
            "ssim 3x3 box map",
            lambda a, b: kt.metrics.ssim(a, b, window="box", filter_size=3, return_map=True),
            reference.ssim_box3,
        ),
    ]
    for name, ours_fn, ref_fn in pairs:
        gaussian = name == "ssim"
        rows += _xla_rows(
            f"{name} fwd+bwd {size}",
            "tf.image.ssim" if gaussian else "vid2depth",
            ours_fn,
            ref_fn,
            (images, other),
            repeats,
            quick,
            targets=(0.5, 0.8) if gaussian else (None, None),
        )
    rows += _warp_rows(rng, batch, height, width, size, repeats, quick)
    rows += _icp_rows(rng, 500 if quick else 8192, 1 if quick else 5, quick)
    return rows


def _xla_rows(name, ref_name, ours_fn, ref_fn, inputs, repeats, quick, targets, note=""):
    """Rows for ours vs the reference without XLA, both with XLA, and ours XLA vs ours.

    All four compiled steps are timed alternately in one loop (only the first pair in
    quick runs). `targets`: ratio targets without and with XLA; ours with XLA must
    take at most 1.0x ours without.
    """
    jits = (False,) if quick else (False, True)
    steps = [_gradient_step(fn, jit) for jit in jits for fn in (ours_fn, ref_fn)]
    seconds, cpu = alternating_seconds(steps, inputs, repeats)
    load = _load_note()
    rows = [
        row(
            f"{name} vs {ref_name}",
            seconds[0],
            seconds[1],
            targets[0],
            note=f"CPU-time ratio {cpu[0] / cpu[1]:.2f}; {load}{note}",
        )
    ]
    if not quick:
        rows.append(
            row(
                f"{name} XLA vs {ref_name} XLA",
                seconds[2],
                seconds[3],
                targets[1],
                note=f"CPU-time ratio {cpu[2] / cpu[3]:.2f}; {load}",
            )
        )
        rows.append(
            row(
                f"{name} XLA vs the same without XLA",
                seconds[2],
                seconds[0],
                1.0,
                note=f"CPU-time ratio {cpu[2] / cpu[0]:.2f}; {load}",
            )
        )
    return rows


def warp_inputs(rng, batch, height, width):
    """Images, depth, a pose and KITTI-like intrinsics for the warp benchmarks."""
    images = tf.constant(rng.random((batch, height, width, 3), dtype=np.float32))
    depth = tf.constant(rng.uniform(5.0, 50.0, (batch, height, width)).astype("float32"))
    pose = tf.constant(rng.normal(0.0, [0.3, 0.05, 0.5, 0.01, 0.02, 0.01], (batch, 6)), "float32")
    focal = 0.58 * width
    k = np.array([[focal, 0, (width - 1) / 2], [0, 1.9 * focal / 3, (height - 1) / 2], [0, 0, 1]])
    intrinsics = tf.constant(np.tile(k[None], (batch, 1, 1)), "float32")
    return images, depth, pose, intrinsics


def masked_warp(image, depth, pose, intrinsics):
    """`kt.geometry.projective_inverse_warp`'s image times its mask."""
    warped, mask = kt.geometry.projective_inverse_warp(image, depth, pose, intrinsics)
    return warped * mask


def masked_reference_warp(image, depth, pose, intrinsics):
    """The vid2depth-style warp's image times its mask."""
    warped, mask = reference.inverse_warp(image, depth, pose, intrinsics)
    return warped * mask


def _warp_rows(rng, batch, height, width, size, repeats, quick):
    inputs = warp_inputs(rng, batch, height, width)

    # Same sampling positions: inside both masks the two warps must agree.
    a, mask_a = kt.geometry.projective_inverse_warp(*inputs)
    b, mask_b = reference.inverse_warp(*inputs)
    both = (mask_a * mask_b).numpy() > 0
    agree = float(np.abs((a - b).numpy() * both).max())
    return _xla_rows(
        f"projective_inverse_warp fwd+bwd {size}",
        "vid2depth",
        masked_warp,
        masked_reference_warp,
        inputs,
        repeats,
        quick,
        targets=(0.8, 0.8),
        note=f"; max |diff| inside masks {agree:.1e}",
    )


def icp_clouds(rng, points):
    """The benchmark's clouds: a uniform 8 x 2 x 20 box, moved by a small known motion."""
    source = rng.uniform(-1.0, 1.0, (points, 3)) * [4.0, 1.0, 10.0] + [0.0, 0.0, 15.0]
    pose = np.array([[0.05, -0.02, 0.1, 0.01, -0.02, 0.015]], "float32")
    true = kt.geometry.pose_vec_to_matrix(pose).numpy()[0].astype("float64")
    return source, source @ true[:3, :3].T + true[:3, 3], true


def _icp_rows(rng, points, repeats, quick):
    source, target, true = icp_clouds(rng, points)
    source32 = tf.constant(source[None], "float32")
    target32 = tf.constant(target[None], "float32")
    settings = (
        [("grid", None, False)]
        if quick
        else [
            ("grid", None, True),
            ("grid", None, False),
            ("brute_force", 1024, True),
        ]
    )
    functions = []
    for neighbors, samples, jit in settings:
        icp = tf.function(
            lambda s, t, n=samples, m=neighbors: kt.geometry.icp(
                s, t, 20, num_samples=n, neighbors=m
            ),
            jit_compile=jit,
        )
        functions.append(lambda icp=icp: [x.numpy() for x in icp(source32, target32)])
    functions.append(lambda: reference.icp_numpy(source, target, 20))
    seconds, cpu = alternating_seconds(functions, None, repeats, warmup=1)
    expected = reference.icp_numpy(source, target, 20)[0]
    ref_error = np.abs(expected - true).max()
    load = _load_note()
    rows = []
    for index, (neighbors, samples, jit) in enumerate(settings):
        transform = functions[index]()[0][0]
        label = f"neighbors={neighbors}" + ("" if samples is None else f", num_samples={samples}")
        rows.append(
            row(
                f"icp 20 it. {points}-pt clouds ({label}){' XLA' if jit else ''} vs cKDTree+Kabsch",
                seconds[index],
                seconds[-1],
                2.0 if index == 0 and not quick else None,
                note=f"CPU-time ratio {cpu[index] / cpu[-1]:.2f}; {load}; max |T - T_ref| "
                f"{np.abs(transform - expected).max():.1e}, |T - T_true| ours "
                f"{np.abs(transform - true).max():.1e}, ref {ref_error:.1e}",
            )
        )
    if not quick:
        rows.append(
            row(
                f"icp 20 it. {points}-pt clouds (neighbors=grid) XLA vs the same without XLA",
                seconds[0],
                seconds[1],
                1.0,
                note=f"CPU-time ratio {cpu[0] / cpu[1]:.2f}; {load}",
            )
        )
    return rows


def _gradient_step(function, jit):
    """A compiled step returning the sum of `function(*inputs)` and the input gradients."""

    @tf.function(jit_compile=jit)
    def step(*inputs):
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            value = tf.reduce_sum(function(*inputs))
        return value, tape.gradient(value, inputs)

    return step


def alternating_seconds(functions, inputs, repeats, warmup=2):
    """Median wall and CPU seconds of each function, calling them in turn, round after round.

    On a shared machine, wall time also measures the neighbours' load, CPU time (of this
    process, all threads) mostly the work done.
    """

    def call(fn):
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn() if inputs is None else fn(*inputs)
        tf.nest.map_structure(lambda t: t.numpy() if hasattr(t, "numpy") else t, result)
        return time.perf_counter() - wall, time.process_time() - cpu

    for _ in range(warmup):
        for fn in functions:
            call(fn)
    times = [[call(fn) for fn in functions] for _ in range(repeats)]
    walls = [statistics.median(t[i][0] for t in times) for i in range(len(functions))]
    cpus = [statistics.median(t[i][1] for t in times) for i in range(len(functions))]
    return walls, [max(c, 1e-9) for c in cpus]


def load_average() -> float:
    """The 1-minute load average of the machine (NaN where /proc is not there)."""
    try:
        with open("/proc/loadavg") as handle:
            return float(handle.read().split()[0])
    except OSError:
        return float("nan")


def _load_note():
    return f"load average {load_average():.1f}"


if __name__ == "__main__":
    print_rows(run())
