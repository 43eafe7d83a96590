"""How the cost of each op grows with its input, beside its reference's: fitted exponents.

Each op runs at four sizes, each twice the previous (pixels for the image ops, points for
ICP), compiled with XLA as the recipes' training steps are (the references too where they
compile; SciPy's `cKDTree` + NumPy Kabsch runs as is). The exponent is the slope of a
least-squares line through `(log size, log median seconds)`: 1 is linear. Our calls and the
reference's alternate, so load from other processes hits both alike.

- SSIM (Gaussian 11x11) forward + backward, against `tf.image.ssim`;
- the projective inverse warp forward + backward, against the vid2depth-style warp;
- ICP (20 iterations, `neighbors="auto"`, the grid at these sizes) at 8k-64k points,
  against `cKDTree` + Kabsch; target: exponent below 1.3.

Writes the log-log plot `docs/images/cost_curves.png` (full runs only). For the exponent
rows the `kerastricks` and `reference` columns hold the two exponents, and `ratio` ours.

Run: `python -m benchmarks.bench_cost_curves`.
"""

from pathlib import Path

import numpy as np
import tensorflow as tf

import kerastricks as kt
from benchmarks import vid2depth_reference as reference
from benchmarks._timing import print_rows, row
from benchmarks.bench_geometry import (
    _gradient_step,
    alternating_seconds,
    icp_clouds,
    load_average,
    masked_reference_warp,
    masked_warp,
    warp_inputs,
)

__all__ = ["run", "fit_exponent"]

PLOT = Path(__file__).resolve().parent.parent / "docs" / "images" / "cost_curves.png"
# Image sizes (H, W), each with twice the pixels of the one before, at batch 1.
IMAGE_SIZES = [(64, 208), (128, 208), (128, 416), (256, 416)]
POINTS = [8192, 16384, 32768, 65536]


def fit_exponent(sizes, seconds) -> float:
    """Slope of the least-squares line through `(log sizes, log seconds)`."""
    return float(np.polyfit(np.log(sizes), np.log(seconds), 1)[0])


def run(quick: bool = False) -> list:
    """Measures every curve; `quick` uses tiny sizes and one repeat, and writes no plot."""
    image_sizes = [(16, 24), (16, 48), (32, 48)] if quick else IMAGE_SIZES
    points = [256, 512, 1024] if quick else POINTS
    repeats = 1 if quick else 5
    curves = {
        "ssim": _image_curve(_ssim_pair, image_sizes, repeats, quick),
        "projective_inverse_warp": _image_curve(_warp_pair, image_sizes, repeats, quick),
        "icp": _icp_curve(points, 1 if quick else 3),
    }
    names = {
        "ssim": ("kt.losses.ssim", "tf.image.ssim"),
        "projective_inverse_warp": ("kt.geometry.projective_inverse_warp", "vid2depth warp"),
        "icp": ("kt.geometry.icp", "cKDTree + Kabsch"),
    }
    rows = []
    for op, (sizes, ours, theirs, load) in curves.items():
        ours_exp, ref_exp = fit_exponent(sizes, ours), fit_exponent(sizes, theirs)
        unit = "points" if op == "icp" else "pixels"
        result = row(
            f"{op} cost exponent {sizes[0]}-{sizes[-1]} {unit} vs {names[op][1]}",
            ours_exp,
            ref_exp,
            note=f"load average {load:.1f}; ours "
            + ", ".join(f"{t:.3g}" for t in ours)
            + " s; ref "
            + ", ".join(f"{t:.3g}" for t in theirs)
            + " s",
            unit="",
        )
        result["ratio"] = ours_exp
        if op == "icp" and not quick:
            result["target"] = 1.3
            result["verdict"] = "pass" if ours_exp < 1.3 else "FAIL"
        rows.append(result)
    if not quick:
        _plot(curves, names)
    return rows


def _image_curve(make_pair, sizes, repeats, quick):
    ours, theirs, loads = [], [], []
    for height, width in sizes:
        ours_fn, ref_fn, inputs = make_pair(height, width, jit=not quick)
        (a, b), _ = alternating_seconds([ours_fn, ref_fn], inputs, repeats)
        ours.append(a), theirs.append(b), loads.append(load_average())
    return [h * w for h, w in sizes], ours, theirs, max(loads)


def _ssim_pair(height, width, jit):
    rng = np.random.default_rng(0)
    images = [tf.constant(rng.random((1, height, width, 3), dtype=np.float32)) for _ in "xy"]
    ours = _gradient_step(lambda a, b: kt.metrics.ssim(a, b), jit)
    theirs = _gradient_step(lambda a, b: tf.image.ssim(a, b, 1.0), jit)
    return ours, theirs, images


def _warp_pair(height, width, jit):
    inputs = warp_inputs(np.random.default_rng(0), 1, height, width)
    ours, theirs = _gradient_step(masked_warp, jit), _gradient_step(masked_reference_warp, jit)
    return ours, theirs, inputs


def _icp_curve(points, repeats):
    ours, theirs, loads = [], [], []
    icp = tf.function(lambda s, t: kt.geometry.icp(s, t, 20), jit_compile=True)
    for count in points:
        source, target, _ = icp_clouds(np.random.default_rng(0), count)
        s32, t32 = tf.constant(source[None], "float32"), tf.constant(target[None], "float32")
        (a, b), _ = alternating_seconds(
            [
                lambda s, t, *_: [x.numpy() for x in icp(s, t)],
                lambda _s, _t, source, target: reference.icp_numpy(source, target, 20),
            ],
            (s32, t32, source, target),
            repeats,
            warmup=1,
        )
        ours.append(a), theirs.append(b), loads.append(load_average())
    return points, ours, theirs, max(loads)


def _plot(curves, names):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import ticker

    figure, axes = plt.subplots(1, 3, figsize=(13, 4.2))
    for axis, (op, (sizes, ours, theirs, _)) in zip(axes, curves.items(), strict=True):
        for times, label, style in ((ours, names[op][0], "o-"), (theirs, names[op][1], "s--")):
            exponent = fit_exponent(sizes, times)
            axis.loglog(sizes, times, style, label=f"{label} (exponent {exponent:.2f})")
        # A slope-1 guide through our first point: linear cost.
        guide = ours[0] * np.asarray(sizes) / sizes[0]
        axis.loglog(sizes, guide, ":", color="grey", label="linear (slope 1)")
        axis.set_title(op + (" (20 it.)" if op == "icp" else " fwd+bwd, XLA"))
        axis.set_xlabel("points" if op == "icp" else "pixels (batch 1)")
        axis.xaxis.set_minor_formatter(ticker.NullFormatter())
        axis.set_xticks(sizes, [f"{size / 1000:.0f}k" for size in sizes])
        axis.set_ylabel("median seconds")
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize=8)
    figure.suptitle("Cost against input size (log-log), 2-core CPU, shared machine")
    figure.tight_layout()
    PLOT.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(PLOT, dpi=90)
    plt.close(figure)


if __name__ == "__main__":
    print_rows(run())
