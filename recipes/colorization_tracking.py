"""Tracking emerges by colorizing video: a pointer trained only on color propagates masks.

What it shows: Vondrick et al. learn to track without tracking labels. A network embeds
grey frames; a target frame's colors are predicted by pointing into reference frames
(`kt.layers.ColorPropagation`: a softmax over embedding similarities, times the
references' quantized colors from `kt.layers.ColorQuantizer`), and the loss is a
cross-entropy over 16 color categories (`kt.losses.QuantizedColorCrossEntropy`). No
mask is seen in training. At test time the same pointer copies the first frame's object
masks through the video (`kt.tracking.propagate_masks`), and the region similarity J
(`kt.metrics.region_similarity`, mean IoU) is compared with two baselines: copying
the first mask unchanged, and pointing with raw-pixel similarity instead of learned
embeddings (on the grey frames the network sees, and on the color frames it does not).
The temperature, window and number of reference frames of every pointer are chosen on
validation videos; J is reported on separate test videos.

Data: `kt.datasets.moving_shapes`, 32x32 videos of 8 frames with two textured, colored
shapes moving over a textured background.

Paper: C. Vondrick, A. Shrivastava, A. Fathi, S. Guadarrama, K. Murphy, "Tracking
Emerges by Colorizing Videos", ECCV 2018.

Your own videos (`--data DIR`, the DAVIS 2017 layout: `JPEGImages/480p/<video>/`,
`Annotations/480p/<video>/` palette PNGs, `ImageSets/2017/train.txt` and `val.txt`): the
colorizer trains on the train videos' frames (no masks), the val videos are tracked from
their first annotation at `--image-size`, the predicted masks are written as palette PNGs
in DAVIS's results layout (`--results`, default `OUTPUT/results/<video>/00000.png`), and
the report gives DAVIS's J, F and J&F per video and overall.

Run:  kerastricks run colorization_tracking          (full run)
      kerastricks run colorization_tracking --quick  (smoke run)
      kerastricks run colorization_tracking --data DAVIS/ --image-size 96 176
Time: the full run took 11 minutes (335 s of CPU time) on a shared 2-core CPU; --quick
      takes about 20 s of CPU time.
"""

import argparse
import time
from pathlib import Path

import keras
import matplotlib
import numpy as np
import skimage.color

import kerastricks as kt
from kerastricks.datasets import check_davis  # for build_parser: no TensorFlow

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

SIZE, FRAMES, STRIDE = 32, 8, 2  # frames of SIZE x SIZE; embeddings at SIZE / STRIDE
NUM_COLORS, DEPTH = 16, 32  # color categories (as in the paper), embedding size
TRAIN_TEMPERATURE = 0.05  # on unit-length embeddings (cosine similarity)
REFERENCES, MAX_GAP = 3, 4  # reference frames per training target, up to MAX_GAP back
DAVIS_TEMPERATURE, DAVIS_WINDOW = 0.03, 3  # the pointer that tracks --data's val videos


def grey(frames):
    """CIE L of sRGB frames, scaled to [-1, 1], with a channel axis: what the network sees."""
    return (skimage.color.rgb2lab(frames)[..., :1] / 50.0 - 1.0).astype("float32")


def downsample(frames, factor=STRIDE):
    """Averages factor x factor blocks: colors at the embeddings' resolution."""
    *lead, height, width, channels = frames.shape
    blocks = frames.reshape(*lead, height // factor, factor, width // factor, factor, channels)
    return blocks.mean(axis=(-4, -2)).astype("float32")


def training_pairs(frames_grey, frames_small, colors, count, rng):
    """Samples `count` (target, REFERENCES earlier frames up to MAX_GAP back) examples."""
    videos = rng.integers(0, len(colors), count)
    targets = rng.integers(min(REFERENCES, colors.shape[1] - 1), colors.shape[1], count)
    gaps = np.stack([np.sort(rng.choice(MAX_GAP, REFERENCES, replace=False)) + 1 for _ in videos])
    references = np.maximum(targets[:, None] - gaps, 0)
    inputs = {
        "target_grey": frames_grey[videos, targets],
        "reference_grey": frames_grey[videos[:, None], references],
        "reference_rgb": frames_small[videos[:, None], references],
    }
    return inputs, colors[videos, targets]


def build_embedder():
    """Grey frame [H, W, 1] -> unit-length embeddings [H/2, W/2, DEPTH]."""
    inputs = keras.Input((None, None, 1))
    x = keras.layers.Conv2D(32, 3, strides=STRIDE, padding="same", activation="relu")(inputs)
    for dilation in (1, 2, 4):
        x = keras.layers.Conv2D(64, 3, padding="same", dilation_rate=dilation, activation="relu")(x)
    x = keras.layers.Conv2D(DEPTH, 1)(x)
    outputs = keras.layers.UnitNormalization()(x)
    return keras.Model(inputs, outputs, name="embedder")


def build_colorizer(embedder, centroids, size=(SIZE, SIZE)):
    """Predicts the target's color distribution by pointing into the reference frames."""
    small = (size[0] // STRIDE, size[1] // STRIDE)
    target = keras.Input((*size, 1), name="target_grey")
    reference = keras.Input((REFERENCES, *size, 1), name="reference_grey")
    reference_rgb = keras.Input((REFERENCES, *small, 3), name="reference_rgb")
    one_hot = kt.layers.ColorQuantizer(NUM_COLORS, centroids=centroids, output_mode="one_hot")(
        reference_rgb
    )
    reference_embeddings = keras.layers.TimeDistributed(embedder)(reference)
    colors = kt.layers.ColorPropagation(TRAIN_TEMPERATURE)(
        [embedder(target), reference_embeddings, one_hot]
    )
    return keras.Model([target, reference, reference_rgb], colors, name="colorizer")


def dataset_j(true_masks, predicted_masks):
    """J mean of a set of videos: the mean over all objects of all videos (as DAVIS)."""
    pairs = zip(true_masks, predicted_masks, strict=True)
    return float(
        np.mean([j for truth, guess in pairs for j in kt.metrics.region_similarity(truth, guess)])
    )


def track(embed, frames, masks, setting):
    """Propagates the first frame's masks through every video; returns label maps."""
    temperature, radius, references, similarity = setting
    first = np.eye(int(masks.max()) + 1, dtype="float32")[masks[:, 0]]
    pointer = kt.layers.ColorPropagation(temperature, radius, similarity)
    soft = kt.tracking.propagate_masks(embed, frames, first, pointer, num_references=references)
    return soft.argmax(-1)


def through_embedding_grid(masks):
    """Ground-truth masks area-downsampled to the embeddings' grid and bilinearly upsampled.

    The pointer on learned embeddings works on that grid, so this is the J it would reach
    by copying perfectly at that resolution (a reference, not a strict bound).
    """
    classes = int(masks.max()) + 1
    one_hot = np.eye(classes, dtype="float32")[masks].reshape(-1, SIZE, SIZE, classes)
    small = keras.ops.image.resize(one_hot, (SIZE // STRIDE,) * 2, interpolation="area")
    back = keras.ops.image.resize(small, (SIZE, SIZE), interpolation="bilinear")
    return keras.ops.convert_to_numpy(back).argmax(-1).reshape(masks.shape)


def overlay(frame, labels):
    """The frame in grey, the objects' labels painted over it in fixed colors."""
    palette = np.array([[0, 0, 0], [1, 0.15, 0.15], [0.15, 0.45, 1], [1, 0.9, 0.1]], "float32")
    base = np.repeat(frame.mean(-1, keepdims=True), 3, -1) * 0.8
    alpha = 0.65 * (labels > 0)[..., None]
    return (1 - alpha) * base + alpha * palette[labels % len(palette)]


def save_strip(path, frames, rows, video_ids):
    """Per video: the color frames, then one row of masks per method, over time."""
    names = list(rows)
    per_video = len(names) + 1
    figure, axes = plt.subplots(
        per_video * len(video_ids),
        FRAMES,
        figsize=(1.2 * FRAMES, 1.25 * per_video * len(video_ids)),
    )
    for block, video in enumerate(video_ids):
        for r in range(per_video):
            ax_row = axes[block * per_video + r]
            for t in range(FRAMES):
                if r == 0:
                    ax_row[t].imshow(frames[video, t])
                else:
                    ax_row[t].imshow(overlay(frames[video, t], rows[names[r - 1]][video, t]))
                ax_row[t].set_xticks([])
                ax_row[t].set_yticks([])
                if block == 0 and r == 0:
                    ax_row[t].set_title(f"t={t}", fontsize=8)
            ax_row[0].set_ylabel("frames" if r == 0 else names[r - 1], fontsize=6)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


# -- your own videos (--data, the DAVIS 2017 layout) ------------------------------------


def nearest(labels, size):
    """Label maps [..., H, W] resized to `size` by nearest neighbour (pixel centres)."""
    height, width = labels.shape[-2:]
    rows = ((np.arange(size[0]) + 0.5) * height / size[0]).astype(int)
    cols = ((np.arange(size[1]) + 0.5) * width / size[1]).astype(int)
    return labels[..., rows[:, None], cols[None, :]]


def davis_scores(truth, predicted):
    """Per object of a video: DAVIS's J and F, each a mean over frames 1..T-1."""
    j = kt.metrics.region_similarity(truth, predicted)
    f = [
        float(np.mean(kt.tracking.boundary_measure(truth[1:] == k, predicted[1:] == k)))
        for k in range(1, int(truth.max()) + 1)
    ]
    return j.tolist(), f


def clips(videos, length):
    """Every video cut into consecutive, non-overlapping clips of `length` frames."""
    return np.stack(
        [v[i : i + length] for v in videos for i in range(0, len(v) - length + 1, length)]
    )


def track_davis(args, strategy, output):
    """Trains the colorizer on the train videos, tracks the val videos from frame 0."""
    start = time.time()
    rng = np.random.default_rng(args.seed)
    size = tuple(args.image_size)
    train = kt.datasets.davis(args.data, "train", size)
    val = kt.datasets.davis(args.data, "val", size)
    length = min(FRAMES, *(len(v["frames"]) for v in train))
    frames = clips([v["frames"] for v in train], length)
    small = downsample(frames)
    quantizer = kt.layers.ColorQuantizer(NUM_COLORS, seed=args.seed)
    quantizer.adapt(small)
    colors = np.asarray(quantizer(small))
    x_train, y_train = training_pairs(grey(frames), small, colors, args.pairs, rng)
    with strategy.scope():
        embedder = build_embedder()
        colorizer = build_colorizer(embedder, quantizer.centroids, size)
        colorizer.compile(
            optimizer=keras.optimizers.Adam(1e-3),
            loss=kt.losses.QuantizedColorCrossEntropy(),
            jit_compile=args.jit_compile,
        )
    history = colorizer.fit(
        x_train,
        y_train,
        batch_size=8 * strategy.num_replicas_in_sync,
        epochs=args.epochs,
        callbacks=kt.recipe_utils.tensorboard_callbacks(args.tensorboard, "colorizer"),
        verbose=2,
    )

    def embed(x):
        return embedder.predict(x, batch_size=16, verbose=0)

    results = Path(args.results or output / "results")
    pointer = kt.layers.ColorPropagation(DAVIS_TEMPERATURE, DAVIS_WINDOW, "dot")
    per_video, scores, copied = {}, {"J": [], "F": []}, {"J": [], "F": []}
    for video in val:
        truth = video["masks"].astype(int)
        first = np.eye(int(truth[0].max()) + 1, dtype="float32")[nearest(truth[0], size)]
        soft = kt.tracking.propagate_masks(
            embed, grey(video["frames"]), first, pointer, num_references=REFERENCES
        )
        predicted = nearest(soft.argmax(-1), truth.shape[1:])
        predicted[0] = truth[0]  # the given masks
        kt.datasets.write_davis_masks(results, video["name"], predicted, video["palette"])
        j, f = davis_scores(truth, predicted)
        scores["J"] += j
        scores["F"] += f
        j_copy, f_copy = davis_scores(truth, np.repeat(truth[:1], len(truth), 0))
        copied["J"] += j_copy
        copied["F"] += f_copy
        jf = {"J": float(np.mean(j)), "F": float(np.mean(f))}
        per_video[video["name"]] = {**jf, "J&F": (jf["J"] + jf["F"]) / 2, "objects": len(j)}
        print(f"{video['name']}: " + ", ".join(f"{k} {v:.3f}" for k, v in jf.items()))
    overall = {k: float(np.mean(v)) for k, v in scores.items()}
    overall["J&F"] = (overall["J"] + overall["F"]) / 2
    baseline = {k: float(np.mean(v)) for k, v in copied.items()}
    baseline["J&F"] = (baseline["J"] + baseline["F"]) / 2
    kt.recipe_utils.save_and_export(colorizer, output, {k: v[:2] for k, v in x_train.items()})
    metrics = {
        "videos": per_video,
        "overall": overall,
        "copy_first_mask": baseline,
        "train_videos": [v["name"] for v in train],
        "training_pairs": args.pairs,
        "image_size": list(size),
        "train_loss": float(history.history["loss"][-1]),
        "results": str(results),
        "total_seconds": time.time() - start,
    }
    rows = [[n, r["objects"], r["J"], r["F"], r["J&F"]] for n, r in per_video.items()]
    rows.append(["**overall** (mean over objects)", len(scores["J"]), *overall.values()])
    rows.append(["copy the first mask (baseline)", len(copied["J"]), *baseline.values()])
    table = kt.recipe_utils.markdown_table(["video", "objects", "J", "F", "J&F"], rows, digits=3)
    kt.recipe_utils.write_report(
        output,
        f"Tracking by colorization on {args.data}",
        metrics,
        {
            "Set-up": (
                f"{len(train)} train videos cut into {len(frames)} clips of {length} frames "
                f"at {size[0]}x{size[1]}, {args.pairs} target frames, {args.epochs} epochs; "
                f"no mask seen in training. {len(val)} val videos tracked from their first "
                f"annotation (T={DAVIS_TEMPERATURE}, window {DAVIS_WINDOW}, {REFERENCES} "
                f"references + the first), masks scored at the annotations' size over "
                f"frames 1..T-1 and written as palette PNGs into `{results}`."
            ),
            "J, F and J&F per video": table,
        },
        tensorboard=args.tensorboard,
    )
    print(table)
    return metrics


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    quick = {"epochs": 1, "pairs": 96, "no_jit": True}  # no XLA: compiling dominates a smoke run
    kt.recipe_utils.add_recipe_arguments(parser, "colorization_tracking", epochs=8, quick=quick)

    def even(text):
        value = kt.recipe_utils.positive_int(text)
        if value % STRIDE:
            raise argparse.ArgumentTypeError(f"expected a multiple of {STRIDE}, got {value}")
        return value

    parser.add_argument(
        "--data",
        type=kt.recipe_utils.layout_argument(check_davis),
        metavar="DIR",
        help="DAVIS 2017 layout (see the docs)",
    )
    parser.add_argument(
        "--image-size",
        type=even,
        nargs=2,
        default=[64, 112],
        metavar=("HEIGHT", "WIDTH"),
        help="working size of the frames (with --data)",
    )
    parser.add_argument(
        "--pairs", type=kt.recipe_utils.positive_int, default=2400, help="training targets"
    )
    parser.add_argument(
        "--results", metavar="DIR", help="predicted masks (with --data); OUTPUT/results"
    )
    return parser


def main(argv=None):
    args = kt.recipe_utils.parse_recipe_args(build_parser(), argv)
    strategy = kt.recipe_utils.prepare_run(args)
    output = Path(args.output)
    if args.data is not None:
        return track_davis(args, strategy, output)
    start = time.time()
    rng = np.random.default_rng(args.seed)

    # -- data: colored videos for training; masks only for validation and test --------
    num_train, num_val, num_test = (24, 4, 4) if args.quick else (400, 40, 60)
    num_pairs = args.pairs
    epochs = args.epochs
    train = kt.datasets.moving_shapes(num_train, FRAMES, SIZE, seed=args.seed + 1)
    val = kt.datasets.moving_shapes(num_val, FRAMES, SIZE, seed=args.seed + 2)
    test = kt.datasets.moving_shapes(num_test, FRAMES, SIZE, seed=args.seed + 3)
    train_small = downsample(train["frames"])

    quantizer = kt.layers.ColorQuantizer(NUM_COLORS, seed=args.seed)
    quantizer.adapt(train_small)
    train_colors = np.asarray(quantizer(train_small))
    x_train, y_train = training_pairs(
        grey(train["frames"]), train_small, train_colors, num_pairs, rng
    )

    # -- model: a shared embedder and the pointer, trained on color only ---------------
    with strategy.scope():
        embedder = build_embedder()
        colorizer = build_colorizer(embedder, quantizer.centroids)
        colorizer.compile(
            optimizer=keras.optimizers.Adam(1e-3),
            loss=kt.losses.QuantizedColorCrossEntropy(),
            metrics=["sparse_categorical_accuracy"],
            jit_compile=args.jit_compile,
        )
    batch_size = 32 * strategy.num_replicas_in_sync
    fit_start = time.time()
    history = colorizer.fit(
        x_train,
        y_train,
        batch_size=batch_size,
        epochs=epochs,
        callbacks=kt.recipe_utils.tensorboard_callbacks(args.tensorboard, "colorizer"),
        verbose=2,
    )
    train_seconds = time.time() - fit_start

    # -- evaluation: choose each pointer's settings on validation videos, J on test ----
    def lab(frames):
        return (skimage.color.rgb2lab(frames) / 50.0).astype("float32")

    def embed(x):
        return embedder.predict(x, batch_size=256, verbose=0)

    identity = lambda x: x  # noqa: E731
    # name: (embedding function, frame transform, similarity, temperatures, window radius)
    methods = {
        "raw pixels, grey (L)": (identity, grey, "euclidean", (1e-3, 1e-2, 1e-1), 6),
        "raw pixels, color (Lab)": (identity, lab, "euclidean", (1e-3, 1e-2, 1e-1), 6),
        "learned embeddings (grey)": (embed, grey, "dot", (0.01, 0.03, 0.1), 3),
    }
    splits = {"val": val, "test": test}
    copied = {k: np.repeat(d["masks"][:, :1], FRAMES, 1) for k, d in splits.items()}
    results = {
        "copy the first mask": {k: dataset_j(d["masks"], copied[k]) for k, d in splits.items()}
    }
    strips = {"copy the first mask": copied["test"]}
    for name, (function, transform, similarity, temperatures, radius) in methods.items():
        grid = [(t, w, r, similarity) for t in temperatures for w in (None, radius) for r in (1, 3)]
        grid = grid[:1] if args.quick else grid
        frames = transform(val["frames"])
        scored = [
            (dataset_j(val["masks"], track(function, frames, val["masks"], s)), s) for s in grid
        ]
        best_val, best = max(scored, key=lambda pair: pair[0])
        strips[name] = track(function, transform(test["frames"]), test["masks"], best)
        results[name] = {
            "val": best_val,
            "test": dataset_j(test["masks"], strips[name]),
            "setting": f"T={best[0]:g}, window={best[1]}, references={best[2]}+first",
        }
    grid_name = f"(reference) true masks through the {SIZE // STRIDE}x{SIZE // STRIDE} grid"
    results[grid_name] = {
        k: dataset_j(d["masks"], through_embedding_grid(d["masks"])) for k, d in splits.items()
    }
    rows = [[name, r["val"], r["test"], r.get("setting", "-")] for name, r in results.items()]

    # -- report --------------------------------------------------------------------------
    strip_rows = {"ground truth": test["masks"], **strips}
    save_strip(output / "tracking_strip.png", test["frames"], strip_rows, [0, 1])
    kt.recipe_utils.save_and_export(colorizer, output, {k: v[:4] for k, v in x_train.items()})
    metrics = {
        "j_mean": {name: r["test"] for name, r in results.items()},
        "val_j_mean": {name: r["val"] for name, r in results.items()},
        "settings": {name: r.get("setting", "-") for name, r in results.items()},
        "train_loss": float(history.history["loss"][-1]),
        "train_color_accuracy": float(history.history["sparse_categorical_accuracy"][-1]),
        "quantization_error": quantizer.quantization_error,
        "train_seconds": train_seconds,
        "total_seconds": time.time() - start,
        "videos": {"train": num_train, "val": num_val, "test": num_test},
        "training_pairs": num_pairs,
        "epochs": epochs,
    }
    table = kt.recipe_utils.markdown_table(
        ["method", "J mean (val)", "J mean (test)", "pointer settings (chosen on val)"], rows
    )
    setup = (
        f"{num_train} training videos ({num_pairs} target frames with {REFERENCES} reference "
        f"frames each, {epochs} epochs), {num_val} validation and {num_test} test videos of "
        f"{FRAMES} frames at {SIZE}x{SIZE}. Colors: {NUM_COLORS} k-means categories of (a, b) "
        f"at {SIZE // STRIDE}x{SIZE // STRIDE}, mean quantization error "
        f"{quantizer.quantization_error:.2f} (Lab units). Final training loss "
        f"{metrics['train_loss']:.3f}, color accuracy {metrics['train_color_accuracy']:.3f}. "
        f"Training took {train_seconds:.0f} s, the whole run {metrics['total_seconds']:.0f} s."
    )
    kt.recipe_utils.write_report(
        output,
        "Tracking by colorization",
        metrics,
        {"Setup": setup, "Region similarity J (mean IoU over objects and frames 1..7)": table},
        images=["tracking_strip.png"],
        tensorboard=args.tensorboard,
    )
    print(table)
    return metrics


if __name__ == "__main__":
    main()
