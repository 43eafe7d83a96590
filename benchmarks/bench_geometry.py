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
  the error of each against the true transform.

Both sides run as `tf.function`s without XLA (the rows marked "XLA" compile both with
`jit_compile=True`, for information). Calls of the two sides alternate, so load from
other processes hits both alike; the table shows median wall times, and each note the
ratio of median CPU times of the process (less sensitive to a busy machine).

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
    for jit in (False, True):
        tag = " XLA" if jit else ""
        if jit and quick:
            continue
        ours, ref = _paired_seconds(
            _gradient_step(lambda a, b: kt.metrics.ssim(a, b), jit),
            _gradient_step(lambda a, b: tf.image.ssim(a, b, 1.0), jit),
            (images, other),
            repeats,
        )
        name = f"ssim fwd+bwd {size}{tag} vs tf.image.ssim"
        rows.append(row(name, ours, ref, None if jit else 0.5, note=_cpu_note()))
        ours, ref = _paired_seconds(
            _gradient_step(
                lambda a, b: kt.metrics.ssim(a, b, window="box", filter_size=3, return_map=True),
                jit,
            ),
            _gradient_step(reference.ssim_box3, jit),
            (images, other),
            repeats,
        )
        name = f"ssim 3x3 box map fwd+bwd {size}{tag} vs vid2depth"
        rows.append(row(name, ours, ref, note=_cpu_note()))
    rows += _warp_rows(rng, images, size, repeats, quick)
    rows += _icp_rows(rng, 500 if quick else 8192, 1 if quick else 5, quick)
    return rows


def _warp_rows(rng, images, size, repeats, quick):
    batch, height, width, _ = images.shape
    depth = tf.constant(rng.uniform(5.0, 50.0, (batch, height, width)).astype("float32"))
    pose = tf.constant(rng.normal(0.0, [0.3, 0.05, 0.5, 0.01, 0.02, 0.01], (batch, 6)), "float32")
    focal = 0.58 * width
    k = np.array([[focal, 0, (width - 1) / 2], [0, 1.9 * focal / 3, (height - 1) / 2], [0, 0, 1]])
    intrinsics = tf.constant(np.tile(k[None], (batch, 1, 1)), "float32")
    inputs = (images, depth, pose, intrinsics)

    def ours(image, depth, pose, intrinsics):
        warped, mask = kt.geometry.projective_inverse_warp(image, depth, pose, intrinsics)
        return warped * mask

    def baseline(image, depth, pose, intrinsics):
        warped, mask = reference.inverse_warp(image, depth, pose, intrinsics)
        return warped * mask

    # Same sampling positions: inside both masks the two warps must agree.
    a, mask_a = kt.geometry.projective_inverse_warp(*inputs)
    b, mask_b = reference.inverse_warp(*inputs)
    both = (mask_a * mask_b).numpy() > 0
    agree = float(np.abs((a - b).numpy() * both).max())
    rows = []
    for jit in (False,) if quick else (False, True):
        tag = " XLA" if jit else ""
        ours_s, ref_s = _paired_seconds(
            _gradient_step(ours, jit), _gradient_step(baseline, jit), inputs, repeats
        )
        rows.append(
            row(
                f"projective_inverse_warp fwd+bwd {size}{tag} vs vid2depth",
                ours_s,
                ref_s,
                None if jit else 0.8,
                note=f"{_cpu_note()}; max |diff| inside masks {agree:.1e}",
            )
        )
    return rows


def _icp_rows(rng, points, repeats, quick):
    source = rng.uniform(-1.0, 1.0, (points, 3)) * [4.0, 1.0, 10.0] + [0.0, 0.0, 15.0]
    pose = np.array([[0.05, -0.02, 0.1, 0.01, -0.02, 0.015]], "float32")
    true = kt.geometry.pose_vec_to_matrix(pose).numpy()[0].astype("float64")
    target = source @ true[:3, :3].T + true[:3, 3]
    source32 = tf.constant(source[None], "float32")
    target32 = tf.constant(target[None], "float32")
    rows = []
    for samples in (None,) if quick else (None, 1024):
        icp = tf.function(lambda s, t, n=samples: kt.geometry.icp(s, t, 20, num_samples=n))
        ours, ref = _paired_seconds(
            lambda icp=icp: [x.numpy() for x in icp(source32, target32)],
            lambda: reference.icp_numpy(source, target, 20),
            None,
            repeats,
        )
        error = np.abs(icp(source32, target32)[0].numpy()[0] - true).max()
        ref_error = np.abs(reference.icp_numpy(source, target, 20)[0] - true).max()
        label = "all points" if samples is None else f"num_samples={samples}"
        rows.append(
            row(
                f"icp 20 it. {points}-pt clouds ({label}) vs cKDTree+Kabsch",
                ours,
                ref,
                note=f"{_cpu_note()}; max |T - T_true|: ours {error:.1e}, ref {ref_error:.1e}",
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


def _paired_seconds(ours, reference_fn, inputs, repeats, warmup=2):
    """Median wall seconds of each function, calling them alternately.

    Also records the median CPU seconds of this process (all threads) in
    `_paired_seconds.cpu_ratio`: on a shared machine, wall time also measures the
    neighbours' load, CPU time mostly the work done.
    """

    def call(fn):
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn() if inputs is None else fn(*inputs)
        tf.nest.map_structure(lambda t: t.numpy() if hasattr(t, "numpy") else t, result)
        return time.perf_counter() - wall, time.process_time() - cpu

    for _ in range(warmup):
        call(ours), call(reference_fn)
    times_ours, times_ref = [], []
    for _ in range(repeats):
        times_ours.append(call(ours))
        times_ref.append(call(reference_fn))
    cpu_ours = statistics.median(t[1] for t in times_ours)
    cpu_ref = statistics.median(t[1] for t in times_ref)
    _paired_seconds.cpu_ratio = cpu_ours / cpu_ref if cpu_ref else float("nan")
    return statistics.median(t[0] for t in times_ours), statistics.median(t[0] for t in times_ref)


def _cpu_note():
    return f"CPU-time ratio {_paired_seconds.cpu_ratio:.2f}"


if __name__ == "__main__":
    print_rows(run())
