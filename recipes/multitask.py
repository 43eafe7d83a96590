"""Multi-task scene understanding: learned uncertainty weights vs a grid of fixed weights.

Reproduces the loss-weighting study of Kendall, Gal & Cipolla, "Multi-Task Learning Using
Uncertainty to Weigh Losses for Scene Geometry and Semantics" (CVPR 2018, Table 1) on
offline synthetic scenes (`kt.datasets.shape_scenes`: boxes, balls and cones on a
checkered floor, 32x32). One shared encoder-decoder feeds three heads, as in the paper:

- semantic segmentation (5 classes, softmax cross-entropy), scored by mean IoU;
- instance regression: per object pixel, the vector to its instance's centroid (L1 on
  object pixels only), scored by the mean distance error in pixels;
- inverse depth (L1), scored by the mean absolute error in 1/m.

The same network is trained with: each task alone, the unweighted sum, a small grid of
fixed weights (including the paper's "approx. optimal" 0.89/0.01/0.1), learned uncertainty
weighting (`kt.models.MultiTaskModel(weighting="uncertainty")`) on all three tasks and on
each pair, and Dynamic Weight Average (Liu et al. 2019). The report has the table in the
paper's format (`report.md`, `metrics.json`) and `sigmas.png`, the learned sigma of each
task over training. The 3-task uncertainty model is saved as `model.keras` and exported as
a SavedModel.

    kerastricks run multitask              # full run: 6 min of CPU (18 min on a shared 2-core box)
    kerastricks run multitask --quick      # smoke run: about 20 s of CPU
"""

import argparse
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

import kerastricks as kt

NUM_CLASSES = 5  # sky, floor, box, ball, cone
TASKS = ("segmentation", "instance", "depth")


def build_network(image_size: int, width: int = 12) -> tuple:
    """A small U-Net-like encoder-decoder with a 1x1 head per task; returns (inputs, outputs)."""

    def block(x, filters, name):
        x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv")(x)
        # Synchronized: on several replicas the statistics are the global batch's, so the
        # training does not depend on the number of GPUs (same as unsynchronized on one).
        x = keras.layers.BatchNormalization(synchronized=True, name=f"{name}_bn")(x)
        return keras.layers.Activation("relu", name=f"{name}_relu")(x)

    inputs = keras.Input((image_size, image_size, 3), name="image")
    e1 = block(inputs, width, "enc1")
    e2 = block(keras.layers.MaxPooling2D(name="pool1")(e1), 2 * width, "enc2")
    e3 = block(keras.layers.MaxPooling2D(name="pool2")(e2), 4 * width, "enc3")
    d2 = keras.layers.UpSampling2D(name="up2")(e3)
    d2 = block(keras.layers.Concatenate(name="skip2")([d2, e2]), 2 * width, "dec2")
    d1 = keras.layers.UpSampling2D(name="up1")(d2)
    shared = block(keras.layers.Concatenate(name="skip1")([d1, e1]), width, "dec1")
    outputs = {
        "segmentation": keras.layers.Conv2D(NUM_CLASSES, 1, name="segmentation")(shared),
        "instance": keras.layers.Conv2D(2, 1, name="instance")(shared),
        "depth": keras.layers.Conv2D(1, 1, name="depth")(shared),
    }
    return inputs, outputs


def losses():
    """The per-task losses, as Kendall et al.: cross-entropy, and L1 for both regressions."""
    return {
        "segmentation": keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        # Averaged over object pixels only (the sample weight is the object mask), of the
        # global batch: Keras's reduction="mean_with_sample_weight" would average each
        # replica's own mean instead, and depend on the number of replicas.
        "instance": kt.losses.GlobalWeightedMean("mean_absolute_error"),
        "depth": keras.losses.MeanAbsoluteError(),
    }


def make_data(count, image_size, seed):
    scenes = kt.datasets.shape_scenes(count, image_size, instances=True, seed=seed)
    x = scenes["images"]
    y = {
        "segmentation": scenes["segmentation"],
        "instance": scenes["instance_offsets"],
        "depth": (1.0 / scenes["depth"])[..., None],  # inverse depth, in 1/m
    }
    mask = (scenes["instance_ids"] > 0).astype("float32")
    ones = np.ones_like(mask)
    weights = {"segmentation": ones, "instance": mask, "depth": ones}
    return x, y, weights


def configurations(quick):
    """(label, weighting) pairs; a dict weighting is fixed, a task with weight 0 is off."""
    one_hot = {t: {u: float(u == t) for u in TASKS} for t in TASKS}
    grid = [(0.89, 0.01, 0.1), (0.6, 0.2, 0.2), (0.2, 0.2, 0.6)]
    configs = [(f"{t.capitalize()} only", one_hot[t]) for t in TASKS]
    configs.append(("Unweighted sum of losses", dict.fromkeys(TASKS, 1.0 / 3.0)))
    configs += [(f"Fixed weights {w}", dict(zip(TASKS, w, strict=True))) for w in grid]
    configs.append(("2 task uncertainty (seg., depth)", ("uncertainty", ("segmentation", "depth"))))
    configs.append(("3 task uncertainty weighting", ("uncertainty", TASKS)))
    # The same, with the log-variances at the network's learning rate (see the docs' pitfall).
    configs.append(("3 task uncertainty, s at 1x rate", ("uncertainty", TASKS, 1.0)))
    configs.append(("3 task DWA (Liu et al. 2019)", ("dwa", TASKS)))
    if quick:  # one task alone, the sum, and the learned weightings
        configs = [configs[i] for i in (0, 3, 8, 10)]
    return configs


def train(args, strategy, weighting, data, run):
    """Builds, compiles and fits the network with one weighting; returns model and History."""
    x, y, weights = data
    batch = args.batch_size * strategy.num_replicas_in_sync
    with strategy.scope():
        inputs, outputs = build_network(x.shape[1])
        multiplier = args.log_variance_multiplier
        if isinstance(weighting, tuple):  # learned: only the named tasks are trained
            scheme, tasks = weighting[:2]
            multiplier = weighting[2] if len(weighting) > 2 else multiplier
            outputs = {t: outputs[t] for t in tasks}
            model = kt.models.MultiTaskModel(inputs, outputs, weighting=scheme)
        else:
            model = kt.models.MultiTaskModel(inputs, outputs, weighting=weighting)
        steps = args.epochs * (len(x) // batch)
        schedule = keras.optimizers.schedules.CosineDecay(args.learning_rate, steps)
        optimizer = keras.optimizers.Adam(schedule)
        if model.uncertainty_weighting is not None and multiplier != 1.0:
            # With Adam, s moves about one learning rate per step: at 3e-3 it could not
            # travel from 0 to log(L) in a short run. The log-variances get a larger rate.
            optimizer = kt.optimizers.LearningRateMultiplier(
                optimizer, {"uncertainty_weighting": multiplier}
            )
        model.compile(
            optimizer=optimizer,
            loss={name: losses()[name] for name in model.task_names},
            jit_compile=args.jit_compile,
        )
    names = model.task_names
    dataset = tf.data.Dataset.from_tensor_slices(
        (x, {n: y[n] for n in names}, {n: weights[n] for n in names})
    )
    dataset = dataset.shuffle(len(x), seed=args.seed).batch(batch, drop_remainder=True)
    history = model.fit(
        dataset.prefetch(2),
        epochs=args.epochs,
        callbacks=kt.recipe_utils.tensorboard_callbacks(args.tensorboard, run),
        verbose=2,
        shuffle=False,
    )
    return model, history.history


def evaluate(model, x, y, weights, batch):
    """Mean IoU (%), instance centroid error (px), inverse depth error (1/m) on held-out data."""
    pred = model.predict(x, batch_size=batch, verbose=0)
    scores = {}
    if "segmentation" in pred:
        iou = keras.metrics.MeanIoU(NUM_CLASSES)
        iou.update_state(y["segmentation"], np.argmax(pred["segmentation"], -1))
        scores["IoU [%]"] = 100.0 * float(iou.result())
    if "instance" in pred:
        distance = np.linalg.norm(pred["instance"] - y["instance"], axis=-1)
        scores["Instance error [px]"] = float(distance[weights["instance"] > 0].mean())
    if "depth" in pred:
        scores["Inv. depth error [1/m]"] = float(np.abs(pred["depth"] - y["depth"]).mean())
    return scores


def plot_sigmas(histories, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = (len(histories) + 1) // 2
    figure, axes = plt.subplots(rows, 2, figsize=(10, 3.6 * rows), squeeze=False)
    axes = axes.ravel()
    for axis in axes[len(histories) :]:
        axis.set_visible(False)
    for axis, (label, history) in zip(axes, histories.items(), strict=False):
        for key in sorted(k for k in history if k.endswith(("_sigma", "_weight"))):
            if not key.startswith("val_"):
                epochs = np.arange(1, len(history[key]) + 1)
                axis.plot(epochs, history[key], marker=".", label=key)
        learned = "sigma" if any(k.endswith("_sigma") for k in history) else "weight"
        ylabel = "sigma = exp(s / 2)" if learned == "sigma" else "task weight"
        axis.set(title=label, xlabel="epoch", ylabel=ylabel)
        if learned == "sigma":
            axis.set_yscale("log")
        axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # A smoke run: tiny data, and no XLA (compiling dominates a short run).
    quick = {"epochs": 1, "train_size": 128, "test_size": 64, "no_jit": True}
    kt.recipe_utils.add_recipe_arguments(parser, "multitask", epochs=8, quick=quick)
    count = kt.recipe_utils.positive_int
    parser.add_argument("--train-size", type=count, default=1536, help="training scenes")
    parser.add_argument("--test-size", type=count, default=512, help="held-out scenes")
    parser.add_argument("--image-size", type=count, default=32)
    parser.add_argument("--batch-size", type=count, default=32, help="per replica")
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument(
        "--log-variance-multiplier",
        type=float,
        default=20.0,
        help="learning-rate multiplier of the uncertainty log-variances (1 = same rate)",
    )
    return parser


def main(argv=None):
    args = kt.recipe_utils.parse_recipe_args(build_parser(), argv)
    strategy = kt.recipe_utils.prepare_run(args)
    output = Path(args.output)

    data = make_data(args.train_size, args.image_size, seed=args.seed)
    test = make_data(args.test_size, args.image_size, seed=args.seed + 10_000)

    rows, histories, saved = [], {}, None
    for label, weighting in configurations(args.quick):
        print(f"--- {label}")
        keras.utils.set_random_seed(args.seed)
        model, history = train(args, strategy, weighting, data, run=label)
        scores = evaluate(model, *test, batch=128)
        trained = model.task_names
        if isinstance(weighting, dict):
            trained = [t for t in TASKS if weighting[t] > 0]
            shown = [f"{weighting[t]:.3g}" for t in TASKS]
        else:
            shown = ["learned" if t in trained else "-" for t in TASKS]
            histories[label] = history
        row = {"Loss": label, "Seg.": shown[0], "Inst.": shown[1], "Depth": shown[2]}
        keys = ("IoU [%]", "Instance error [px]", "Inv. depth error [1/m]")
        for task, key in zip(TASKS, keys, strict=True):
            row[key] = scores[key] if task in trained else "-"
        row["final task weights"] = {t: round(w, 4) for t, w in model.task_weights().items()}
        rows.append(row)
        print(row)
        if weighting == ("uncertainty", TASKS):
            saved = model

    plot_sigmas(histories, output / "sigmas.png")
    kt.recipe_utils.save_and_export(saved, output, test[0][:8])
    columns = ["Loss", "Seg.", "Inst.", "Depth", "IoU [%]", "Instance error [px]"]
    columns.append("Inv. depth error [1/m]")
    table = kt.recipe_utils.markdown_table(columns, rows, digits=4)
    metrics = {"results": rows, "histories": histories, "epochs": args.epochs}
    kt.recipe_utils.write_report(
        output,
        "Multi-task learning: uncertainty weighting vs fixed loss weights",
        metrics,
        {
            "Set-up": (
                f"shape_scenes {args.image_size}x{args.image_size}: {args.train_size} training "
                f"and {args.test_size} held-out scenes; one encoder-decoder, heads for "
                f"segmentation, instance centroids and inverse depth; Adam "
                f"{args.learning_rate} with cosine decay (log-variances: "
                f"{args.log_variance_multiplier}x), global batch "
                f"{args.batch_size * strategy.num_replicas_in_sync}, {args.epochs} epochs, "
                f"seed {args.seed}."
            ),
            "Results on held-out scenes (weights: Seg., Inst., Depth)": table,
        },
        images=["sigmas.png"],
        tensorboard=args.tensorboard,
    )
    return metrics


if __name__ == "__main__":
    main()
