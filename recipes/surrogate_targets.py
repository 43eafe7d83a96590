"""Surrogate and auxiliary targets: make a target that gradient descent cannot learn learnable.

What it shows, on offline synthetic data (`kt.datasets.line_slopes`, `kt.datasets.pose_parts`):

1. Sets of four line images. A yes/no over the whole set (the parity of the slope signs,
   which for two images is "do all slopes have the same sign?") trained directly stays
   at chance: flipping one slope flips the answer, so the loss gives no useful gradient.
   Adding the smooth per-image auxiliary target "is this slope positive?" (multi-task,
   same network) makes it learnable. The lecture's own wording, "all the same sign" over
   four images (balanced), is run as well.
2. A regression (where are the hand and the foot, among look-alike shapes?) on 1000
   images, trained alone and with an auxiliary body-part detection target (is each cell
   of a 6 x 6 grid the hand, the foot or neither?) at loss weights 1e-9, 0.1 and 1, as
   in Li et al.'s pose estimation. Trained for 3 x `--epochs`, two seeds (mean shown).

Every run is watched by `kt.callbacks.TrainingDoctor`, whose findings are in the table,
and `kt.callbacks.LRFinder` is run once (plot `lr_finder.png`).

Papers: Shalev-Shwartz, Shamir & Shammah, "Failures of Gradient-Based Deep Learning"
(ICML 2017), Section 3; Li, Liu & Chan, "Heterogeneous Multi-task Learning for Human
Pose Estimation with Deep Convolutional Neural Network" (CVPR Workshops 2014).

Run: `kerastricks run surrogate_targets` (or `python recipes/surrogate_targets.py`).
Time: 18.5 minutes measured on a busy shared 2-core CPU (5 minutes of CPU time);
`--quick` about 30 seconds of CPU time.
"""

import argparse
from pathlib import Path

import keras
import matplotlib
import numpy as np

import kerastricks as kt

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

LINES, SIZE = 4, 16


# -- models --------------------------------------------------------------------------
# Plain Keras multi-output models with `loss_weights`; an auxiliary weight of 0 gives the
# same network trained on the main target alone. (`kt.models.MultiTaskModel` can replace
# the dict of losses and weights once it lands.)


def sets_model(target, aux_weight, jit_compile):
    """A shared per-image encoder; a set-level head for `target`, a per-image sign head."""
    encoder = keras.Sequential(
        [
            keras.Input((SIZE, SIZE, 1)),
            keras.layers.Conv2D(8, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(16, 3, activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(16, activation="relu"),
        ],
        name="encoder",
    )
    images = keras.Input((LINES, SIZE, SIZE, 1), name="images")
    features = keras.layers.TimeDistributed(encoder, name="per_image")(images)
    sign = keras.layers.Dense(1, activation="sigmoid", name="sign")(features)
    slope_positive = keras.layers.Reshape((LINES,), name="slope_positive")(sign)
    hidden = keras.layers.Dense(32, activation="relu")(keras.layers.Flatten()(features))
    answer = keras.layers.Dense(1, activation="sigmoid", name=target)(hidden)
    model = keras.Model(images, {target: answer, "slope_positive": slope_positive})
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss={target: "binary_crossentropy", "slope_positive": "binary_crossentropy"},
        loss_weights={target: 1.0, "slope_positive": aux_weight},
        metrics={
            target: [keras.metrics.BinaryAccuracy(name="accuracy")],
            "slope_positive": [keras.metrics.BinaryAccuracy(name="accuracy")],
        },
        jit_compile=jit_compile,
    )
    return model


def pose_model(aux_weight, jit_compile, image_size):
    """Shared convolutions; a regression head (pose) and a per-cell part detector."""
    images = keras.Input((image_size, image_size, 1), name="images")
    h = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(images)
    h = keras.layers.MaxPooling2D()(h)
    h = keras.layers.Conv2D(32, 3, padding="same", activation="relu")(h)
    h = keras.layers.MaxPooling2D()(h)
    h = keras.layers.Conv2D(32, 3, padding="same", activation="relu")(h)  # one cell per pixel
    # Detection, as sliding windows: each cell of the feature map is hand, foot or neither.
    part_map = keras.layers.Conv2D(3, 1, activation="softmax", name="part_map")(h)
    shared = keras.layers.Dense(64, activation="relu")(keras.layers.Flatten()(h))
    pose = keras.layers.Dense(4, name="pose")(shared)
    model = keras.Model(images, {"pose": pose, "part_map": part_map})
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss={"pose": "mse", "part_map": "sparse_categorical_crossentropy"},
        loss_weights={"pose": 1.0, "part_map": aux_weight},
        jit_compile=jit_compile,
    )
    return model


# -- training ------------------------------------------------------------------------


def train(model, train, test, targets, args, batch_size, run):
    """Fits with the doctor watching; returns the history and the doctor's finding codes."""
    probe = (test[0][:64], {k: test[1][k][:64] for k in targets})
    log_dir = None if args.tensorboard is None else Path(args.tensorboard) / run
    doctor = kt.callbacks.TrainingDoctor(probe, check_labels=False, verbose=1, log_dir=log_dir)
    history = model.fit(
        train[0],
        {k: train[1][k] for k in targets},
        validation_data=(test[0][64:], {k: test[1][k][64:] for k in targets}),
        batch_size=batch_size,
        epochs=args.epochs,
        callbacks=[doctor, *kt.recipe_utils.tensorboard_callbacks(args.tensorboard, run)],
        verbose=2,
    )
    return history.history, sorted({f.code for f in doctor.findings})


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    quick = {"epochs": 2, "no_jit": True}  # no XLA: compiling four models dominates a smoke run
    kt.recipe_utils.add_recipe_arguments(parser, "surrogate_targets", epochs=10, quick=quick)
    return parser


def main(argv=None):
    args = kt.recipe_utils.parse_recipe_args(build_parser(), argv)
    strategy = kt.recipe_utils.prepare_run(args)
    output = Path(args.output)
    batch_size = 64 * strategy.num_replicas_in_sync
    num_train, num_test = (256, 192) if args.quick else (4000, 1064)
    pose_train = 256 if args.quick else 1000
    pose_weights = (0.0, 1.0) if args.quick else (0.0, 1e-9, 0.1, 1.0)
    pose_epochs = args.epochs if args.quick else 3 * args.epochs
    pose_seeds = (0,) if args.quick else (0, 1)

    # -- 1. sets of lines: a hard yes/no, directly or with the per-image sign ---------------
    metrics, curves, sets_rows = {"sets": {}, "pose": {}}, {}, []
    tasks = (("sign_parity", False), ("same_sign", True))
    for target, balanced in tasks[:1] if args.quick else tasks:
        data = [
            kt.datasets.line_slopes(n, LINES, SIZE, balanced=balanced, seed=args.seed + s)
            for n, s in ((num_train, 1), (num_test, 2))
        ]
        train_set, test_set = ((d["images"], d) for d in data)
        for training, weight in (("direct", 0.0), ("with auxiliary sign", 1.0)):
            keras.utils.set_random_seed(args.seed)  # both start from the same weights
            with strategy.scope():
                model = sets_model(target, weight, args.jit_compile)
            if target == "sign_parity" and weight and not args.quick:
                finder = kt.callbacks.LRFinder(plot_path=str(output / "lr_finder.png"))
                model.fit(
                    train_set[0],
                    {k: train_set[1][k] for k in (target, "slope_positive")},
                    batch_size=batch_size,
                    epochs=5,
                    callbacks=[finder],
                    verbose=0,
                )
                metrics["lr_finder_suggestion"] = finder.suggested_learning_rate
            name = f"{target} / {training}"
            history, codes = train(
                model, train_set, test_set, (target, "slope_positive"), args, batch_size, name
            )
            curves[name] = history[f"val_{target}_accuracy"]
            result = {
                "target_accuracy": curves[name][-1],
                "sign_accuracy": history["val_slope_positive_accuracy"][-1],
                "doctor": codes,
            }
            metrics["sets"][name] = result
            sets_rows.append(
                [
                    target,
                    training,
                    result["target_accuracy"],
                    result["sign_accuracy"],
                    ", ".join(codes) or "none",
                ]
            )

    # -- 2. pose regression, alone and with body-part detection --------------------------
    # Few examples (as the 1000 training images of Li et al.'s LSP), trained 3x longer.
    image_size, grid = 24, 6  # 4-pixel cells: the 6 x 6 feature map after two poolings
    data = [
        kt.datasets.pose_parts(
            n, image_size, num_distractors=4, grid=grid, noise=0.4, seed=args.seed + s
        )
        for n, s in ((pose_train, 3), (num_test, 4))
    ]
    train_pose, test_pose = ((d["images"], d) for d in data)
    variance = float(np.mean(np.var(test_pose[1]["pose"][64:], axis=0)))
    pose_args = argparse.Namespace(**{**vars(args), "epochs": pose_epochs})
    pose_rows, pose_curves = [], {}
    for weight in pose_weights:
        runs = []
        for seed in pose_seeds:  # the same initial weights for every loss weight
            keras.utils.set_random_seed(args.seed + seed)
            with strategy.scope():
                model = pose_model(weight, args.jit_compile, image_size)
            history, codes = train(
                model,
                train_pose,
                test_pose,
                ("pose", "part_map"),
                pose_args,
                batch_size,
                f"pose weight {weight} seed {seed}",
            )
            r2 = [1.0 - v / variance for v in history["val_pose_loss"]]
            # Detection: is the cell the map scores highest for the hand (foot) the right one?
            scores = model.predict(test_pose[0][64:], batch_size=256, verbose=0)["part_map"]
            flat = scores.reshape(len(scores), grid * grid, 3)
            found = np.stack([flat[..., 1].argmax(-1), flat[..., 2].argmax(-1)], axis=-1)
            hits = float(np.mean(found == test_pose[1]["part_cells"][64:]))
            runs.append({"r2": r2, "hits": hits, "codes": codes})
        r2 = np.mean([run["r2"] for run in runs], axis=0).tolist()
        pose_curves[f"detection weight {weight:g}"] = r2
        codes = sorted({code for run in runs for code in run["codes"]})
        result = {
            "pose_r2": r2[-1],
            "pose_r2_per_seed": [run["r2"][-1] for run in runs],
            "best_pose_r2": max(r2),
            "pose_rmse_pixels": float(np.sqrt((1 - r2[-1]) * variance)) * image_size / 2,
            "part_detection": float(np.mean([run["hits"] for run in runs])),
            "doctor": codes,
        }
        metrics["pose"][f"{weight:g}"] = result
        per_seed = " / ".join(f"{v:.3f}" for v in result["pose_r2_per_seed"])
        pose_rows.append(
            [
                f"{weight:g}",
                r2[-1],
                per_seed,
                max(r2),
                result["pose_rmse_pixels"],
                result["part_detection"],
                ", ".join(codes) or "none",
            ]
        )

    # -- report ----------------------------------------------------------------------------
    figure, axes = plt.subplots(1, 2, figsize=(11, 4))
    for name, values in curves.items():
        axes[0].plot(range(1, len(values) + 1), values, label=name)
    axes[0].axhline(0.5, color="0.6", linestyle=":", label="chance")
    axes[0].set(xlabel="epoch", ylabel="test accuracy", title="Sets of 4 line images")
    for name, values in pose_curves.items():
        axes[1].plot(range(1, len(values) + 1), values, label=name)
    axes[1].set(xlabel="epoch", ylabel="test R^2 of the pose", title="Pose regression")
    for ax in axes:
        ax.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(output / "learning_curves.png", dpi=100)
    plt.close(figure)

    kt.recipe_utils.save_and_export(model, output, test_pose[0][:8])
    sections = {
        "Sets of line images": kt.recipe_utils.markdown_table(
            ["target", "training", "test accuracy", "sign accuracy", "doctor"], sets_rows
        ),
        "Pose regression with body-part detection": kt.recipe_utils.markdown_table(
            [
                "detection weight",
                "pose R^2",
                "per seed",
                "best R^2",
                "RMSE (px)",
                "parts detected",
                "doctor",
            ],
            pose_rows,
        ),
    }
    images = ["learning_curves.png"] + (
        ["lr_finder.png"] if "lr_finder_suggestion" in metrics else []
    )
    kt.recipe_utils.write_report(
        output,
        "Surrogate and auxiliary targets",
        metrics,
        sections,
        images,
        tensorboard=args.tensorboard,
    )
    return metrics


if __name__ == "__main__":
    main()
