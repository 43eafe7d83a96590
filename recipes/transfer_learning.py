"""Transfer learning at small scale: frozen vs fine-tuned vs scratch, by transferred depth.

Reproduces the split-data study of Yosinski, Clune, Bengio & Lipson, "How transferable are
features in deep neural networks?" (NeurIPS 2014) on scikit-learn's bundled digits:

1. split the ten digit classes into two disjoint halves, A = {0..4} and B = {5..9};
2. train a base CNN on all of A;
3. for n = 1..4, copy its first n conv layers into a fresh network for B and train on a
   small labeled budget of B, with the copied layers (i) frozen ("AnB"), or (ii) fine-tuned
   at a tenth of the learning rate with `kt.optimizers.LearningRateMultiplier` ("AnB+");
4. compare with (iii) the same network trained on B from scratch.

Accuracy is measured on every B image outside the budget, over several seeds. The report
has the table (`report.md`, `metrics.json`) and the plot `accuracy_vs_depth.png`; the
best fine-tuned model is saved as `model.keras` and as a SavedModel.

Your own photos (`--data DIR`, one subfolder per class, as
`keras.utils.image_dataset_from_directory` reads): a `keras.applications` backbone
(`--backbone`, with its own preprocessing; `--weights imagenet` if you have the weights)
gets a new softmax head and is fine-tuned with ULMFiT's tricks: per-layer learning rates
that decay block by block from the head (`kt.optimizers.layerwise_multipliers`) and
gradual unfreezing of the backbone's blocks, one more per epoch
(`kt.callbacks.GradualUnfreezing`). A quarter of each class is held out; the report has
the accuracy, the accuracy per class and the confusion matrix (`confusion_matrix.png`).

    kerastricks run transfer_learning            # full run: 485 s of CPU time (< 10 min)
    kerastricks run transfer_learning --quick    # smoke run: well under a minute
    kerastricks run transfer_learning --data photos/ --backbone EfficientNetB0 \\
        --weights imagenet --image-size 224 --epochs 10
"""

import argparse
import warnings
from pathlib import Path

import keras
import numpy as np

import kerastricks as kt
from kerastricks.datasets import check_image_folder

CONV_LAYERS = ["conv1", "conv2", "conv3", "conv4"]
BACKBONES = (  # every model constructor in keras.applications (Keras 3.10+)
    "ConvNeXtBase", "ConvNeXtLarge", "ConvNeXtSmall", "ConvNeXtTiny", "ConvNeXtXLarge",
    "DenseNet121", "DenseNet169", "DenseNet201", "EfficientNetB0", "EfficientNetB1",
    "EfficientNetB2", "EfficientNetB3", "EfficientNetB4", "EfficientNetB5", "EfficientNetB6",
    "EfficientNetB7", "EfficientNetV2B0", "EfficientNetV2B1", "EfficientNetV2B2",
    "EfficientNetV2B3", "EfficientNetV2L", "EfficientNetV2M", "EfficientNetV2S",
    "InceptionResNetV2", "InceptionV3", "MobileNet", "MobileNetV2", "MobileNetV3Large",
    "MobileNetV3Small", "NASNetLarge", "NASNetMobile", "ResNet101", "ResNet101V2", "ResNet152",
    "ResNet152V2", "ResNet50", "ResNet50V2", "VGG16", "VGG19", "Xception",
)  # fmt: skip
FAMILIES = (  # backbone name prefix -> keras.applications module (its preprocess_input)
    ("ConvNeXt", "convnext"),
    ("DenseNet", "densenet"),
    ("EfficientNetV2", "efficientnet_v2"),
    ("EfficientNet", "efficientnet"),
    ("InceptionResNetV2", "inception_resnet_v2"),
    ("InceptionV3", "inception_v3"),
    ("MobileNetV3", "mobilenet_v3"),
    ("MobileNetV2", "mobilenet_v2"),
    ("MobileNet", "mobilenet"),
    ("NASNet", "nasnet"),
    ("VGG16", "vgg16"),
    ("VGG19", "vgg19"),
    ("Xception", "xception"),
)
# A backbone's blocks, from its layer names: EfficientNet's "block3a_...", ResNet's and
# DenseNet's "conv3_block1_...", VGG's "block2_...", MobileNetV2's "block_5_...",
# MobileNetV3's "expanded_conv_4_...", ConvNeXt's "..._stage_2_...". Unmatched layers (the
# stem, the head) form blocks of their own.
BLOCK_PATTERN = r"^(?:.*?_)?(block_?\d+|conv\d+(?=_)|stage_\d+|expanded_conv_\d+)"


def build_network(num_classes: int) -> keras.Model:
    """A small CNN for 16x16 digits: four conv layers, global pooling, a softmax head."""
    inputs = keras.Input((16, 16, 1), name="image")
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu", name="conv1")(inputs)
    x = keras.layers.Conv2D(32, 3, strides=2, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv3")(x)
    x = keras.layers.Conv2D(64, 3, strides=2, padding="same", activation="relu", name="conv4")(x)
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="head")(x)
    return keras.Model(inputs, outputs, name="digits_cnn")


def compile_classifier(model, optimizer, args):
    model.compile(
        optimizer=optimizer,
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
        jit_compile=args.jit_compile,
    )


def train_base(args, strategy, x_a, y_a):
    """Task A: the base network, trained on every image of classes 0-4."""
    x_a, y_a = kt.distribute.trim_to_replicas((x_a, y_a), strategy.num_replicas_in_sync)
    with strategy.scope():
        base = build_network(5)
        compile_classifier(base, keras.optimizers.Adam(1e-3), args)
    base.fit(
        x_a,
        y_a,
        batch_size=32 * strategy.num_replicas_in_sync,
        epochs=args.base_epochs,
        validation_split=0.1 if strategy.num_replicas_in_sync == 1 else 0.0,
        callbacks=kt.recipe_utils.tensorboard_callbacks(args.tensorboard, "base"),
        verbose=2,
    )
    return base


def train_on_b(args, strategy, base, depth, mode, x_train, y_train, x_test, y_test, run):
    """Task B from a small budget: `depth` conv layers copied from `base`, then trained."""
    replicas = strategy.num_replicas_in_sync
    x_train, y_train = kt.distribute.trim_to_replicas((x_train, y_train), replicas)
    x_test, y_test = kt.distribute.trim_to_replicas((x_test, y_test), replicas)
    copied = CONV_LAYERS[:depth]
    with strategy.scope():
        model = build_network(5)
        for name in copied:
            model.get_layer(name).set_weights(base.get_layer(name).get_weights())
        if mode == "frozen":
            for name in copied:
                model.get_layer(name).trainable = False
            optimizer = keras.optimizers.Adam(args.learning_rate)
        else:  # fine-tuned: copied layers learn at a fraction of the rate, the rest at full rate
            multipliers = {name: args.finetune_multiplier for name in copied}
            optimizer = kt.optimizers.LearningRateMultiplier(
                "adam", multipliers, learning_rate=args.learning_rate
            )
        compile_classifier(model, optimizer, args)
    model.fit(
        x_train,
        y_train,
        batch_size=min(len(x_train), 16 * replicas),
        epochs=args.epochs,
        callbacks=kt.recipe_utils.tensorboard_callbacks(args.tensorboard, run),
        verbose=0,
    )
    _, accuracy = model.evaluate(x_test, y_test, batch_size=128 * replicas, verbose=0)
    return model, float(accuracy)


def plot(results, budgets, depths, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(budgets), figsize=(5 * len(budgets), 4), squeeze=False)
    for axis, budget in zip(axes[0], budgets):
        for mode, style in (("frozen", "o-"), ("fine-tuned", "s-")):
            runs = np.array([results[(budget, d, mode)] for d in depths])
            axis.errorbar(depths, runs.mean(1), yerr=runs.std(1), fmt=style, capsize=3, label=mode)
        scratch = np.array(results[(budget, 0, "scratch")])
        axis.axhline(scratch.mean(), color="gray", linestyle="--", label="scratch")
        axis.axhspan(scratch.mean() - scratch.std(), scratch.mean() + scratch.std(), color="0.9")
        axis.set(
            title=f"B with {budget} labels per class",
            xlabel="layers transferred from A (n)",
            ylabel="test accuracy on B",
            xticks=depths,
        )
        axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


# -- your own photos (--data) ----------------------------------------------------------


def load_photos(args):
    """The class folders, resized, split per class: a quarter (at least one) held out."""
    size = (args.image_size, args.image_size)
    x, y, class_names = kt.datasets.image_folder(args.data, size)
    rng = np.random.default_rng(args.seed)
    test = []
    for label in range(len(class_names)):
        members = rng.permutation(np.flatnonzero(y == label))
        test.extend(members[: max(1, len(members) // 4)])
    is_test = np.isin(np.arange(len(y)), test)
    return x[~is_test], y[~is_test], x[is_test], y[is_test], class_names


def preprocessing_module(backbone):
    """The keras.applications module with `backbone`'s `preprocess_input`."""
    if backbone.startswith("ResNet"):
        return "resnet_v2" if backbone.endswith("V2") else "resnet"
    return next(module for prefix, module in FAMILIES if backbone.startswith(prefix))


def build_classifier(args, num_classes):
    """The backbone (its layers at the top level, so each can be frozen and given a rate)
    with a new softmax head; returns the model and the backbone's `preprocess_input`."""
    constructor = getattr(keras.applications, args.backbone)
    preprocess = getattr(keras.applications, preprocessing_module(args.backbone)).preprocess_input
    inputs = keras.Input((args.image_size, args.image_size, 3), name="image")
    backbone = constructor(
        include_top=False,
        weights=None if args.weights == "none" else "imagenet",
        input_tensor=inputs,
        pooling="avg",
    )
    x = keras.layers.Dropout(0.2, name="head_dropout")(backbone.output)
    outputs = keras.layers.Dense(num_classes, activation="softmax", name="head")(x)
    return keras.Model(inputs, outputs, name=f"{args.backbone}_classifier"), preprocess


def fine_tune_on_photos(args, strategy, output):
    x_train, y_train, x_test, y_test, class_names = load_photos(args)
    replicas = strategy.num_replicas_in_sync
    x_train, y_train = kt.distribute.trim_to_replicas((x_train, y_train), replicas)
    with strategy.scope():
        model, preprocess = build_classifier(args, len(class_names))
        kt.transfer.freeze(model, until="head_dropout")  # the head trains from epoch 0
        # One rate per block, decaying from the head; the frozen blocks get theirs too, for
        # when GradualUnfreezing opens them (from the head backwards, one per epoch).
        multipliers = kt.optimizers.layerwise_multipliers(
            model, args.layer_decay, BLOCK_PATTERN, include_frozen=True
        )
        blocks = {}  # the frozen layers by rate: one block per rate, head side first
        for name, multiplier in multipliers.items():
            if not model.get_layer(name).trainable:
                blocks.setdefault(multiplier, []).append(name)
        schedule = [blocks[m] for m in sorted(blocks, reverse=True)]
        optimizer = kt.optimizers.LearningRateMultiplier(
            "adam", multipliers, learning_rate=args.learning_rate
        )
        compile_classifier(model, optimizer, args)
    callbacks = (
        [kt.callbacks.GradualUnfreezing(schedule, start_epoch=1, every=1)] if schedule else []
    )
    x_train, x_test = preprocess(x_train.copy()), preprocess(x_test.copy())
    model.fit(
        x_train,
        y_train,
        batch_size=min(len(x_train), 16 * replicas),
        epochs=args.epochs,
        callbacks=[*callbacks, *kt.recipe_utils.tensorboard_callbacks(args.tensorboard, "fit")],
        verbose=2,
    )
    predicted = model.predict(x_test, batch_size=32, verbose=0).argmax(-1)
    confusion = np.zeros((len(class_names),) * 2, dtype=int)
    np.add.at(confusion, (y_test, predicted), 1)
    per_class = {
        name: float(confusion[i, i] / confusion[i].sum()) for i, name in enumerate(class_names)
    }
    plot_confusion(confusion, class_names, output / "confusion_matrix.png")
    # Ship it fine-tunable: every block trainable (batch normalization stays frozen) with
    # a fresh optimizer of the same per-layer rates built on them in the model's order.
    # (GradualUnfreezing built its optimizer in unfreezing order, and a .keras file
    # restores optimizer state by position in the model's order.)
    with strategy.scope(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "trainable changed after compile": recompiled here
        kt.transfer.unfreeze(model)
        optimizer = kt.optimizers.LearningRateMultiplier(
            "adam", multipliers, learning_rate=args.learning_rate
        )
        model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
        optimizer.build(model.trainable_variables)
    kt.recipe_utils.save_and_export(model, output, x_test[:4])
    unfrozen = sum(len(b) for b in schedule[: max(0, args.epochs - 1)])
    metrics = {
        "backbone": args.backbone,
        "weights": args.weights,
        "classes": class_names,
        "train_images": len(y_train),
        "test_images": len(y_test),
        "accuracy": float(np.mean(predicted == y_test)),
        "per_class_accuracy": per_class,
        "confusion_matrix": confusion.tolist(),
        "blocks": len(schedule),
        "layers_unfrozen": unfrozen,
    }
    rows = [[name, int(confusion[i].sum()), per_class[name]] for i, name in enumerate(class_names)]
    kt.recipe_utils.write_report(
        output,
        f"Transfer learning on {args.data}: {args.backbone}",
        metrics,
        {
            "Set-up": (
                f"{args.backbone} (weights: {args.weights}), {args.image_size}px images, "
                f"{len(y_train)} for training, {len(y_test)} held out. {args.epochs} epochs "
                f"of Adam {args.learning_rate}; the backbone's {len(schedule)} blocks get "
                f"rates decaying by {args.layer_decay} per block from the head and unfreeze "
                f"one per epoch from epoch 1 (batch normalization stays frozen)."
            ),
            "Held-out accuracy": f"{metrics['accuracy']:.3f}",
            "Accuracy per class": kt.recipe_utils.markdown_table(
                ["class", "held-out images", "accuracy"], rows, digits=3
            ),
        },
        images=["confusion_matrix.png"],
        tensorboard=args.tensorboard,
    )
    return metrics


def plot_confusion(confusion, class_names, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    size = 1.5 + 0.5 * len(class_names)
    figure, axis = plt.subplots(figsize=(size + 1, size))
    image = axis.imshow(confusion, cmap="Blues")
    ticks = range(len(class_names))
    axis.set(xticks=ticks, yticks=ticks, xlabel="predicted", ylabel="true")
    axis.set_xticklabels(class_names, rotation=45, ha="right")
    axis.set_yticklabels(class_names)
    for (i, j), count in np.ndenumerate(confusion):
        axis.text(j, i, str(count), ha="center", va="center")
    figure.colorbar(image)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # A smoke run, without XLA: compiling each small model takes longer than its training.
    quick = {"epochs": 15, "base_epochs": 3, "budgets": [5], "seeds": 1, "no_jit": True}
    kt.recipe_utils.add_recipe_arguments(parser, "transfer_learning", epochs=120, quick=quick)
    whole, count = kt.recipe_utils.non_negative_int, kt.recipe_utils.positive_int

    def class_folders(folder):  # the layout, checked while parsing: before TensorFlow loads
        for name, files in check_image_folder(folder).items():
            if len(files) < 2:
                message = f"class {name!r} needs at least 2 images (one is held out)."
                raise ValueError(f"{message} Received: images={len(files)}")

    def decay(text):
        value = float(text)
        if not 0.0 < value < 1.0:
            raise argparse.ArgumentTypeError(f"expected 0 < decay < 1, got {value}")
        return value

    parser.add_argument(
        "--data",
        type=kt.recipe_utils.layout_argument(class_folders),
        metavar="DIR",
        help="your photos: DIR/<class>/<image>",
    )
    parser.add_argument(
        "--backbone",
        choices=BACKBONES,
        default="MobileNetV3Small",
        metavar="NAME",
        help="a keras.applications model (with --data)",
    )
    parser.add_argument(
        "--weights",
        choices=("imagenet", "none"),
        default="none",
        help="the backbone's initial weights (imagenet: Keras's file, "
        "downloaded once into ~/.keras/models)",
    )
    parser.add_argument("--image-size", type=count, default=224, help="pixels (with --data)")
    parser.add_argument(
        "--layer-decay",
        type=decay,
        default=0.5,
        help="rate factor between consecutive blocks (with --data)",
    )
    parser.add_argument("--base-epochs", type=whole, default=30, help="epochs on task A")
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument("--finetune-multiplier", type=float, default=0.1)
    parser.add_argument("--budgets", type=count, nargs="+", default=[3, 10], help="labels/class")
    parser.add_argument("--seeds", type=count, default=3, help="repetitions per configuration")
    return parser


def main(argv=None):
    args = kt.recipe_utils.parse_recipe_args(build_parser(), argv)
    depths = [2] if args.quick else [1, 2, 3, 4]
    strategy = kt.recipe_utils.prepare_run(args)
    output = Path(args.output)
    if args.data is not None:
        return fine_tune_on_photos(args, strategy, output)

    # Data: digits resized to 16x16, classes 0-4 for task A, 5-9 (relabelled 0-4) for B.
    x, y = kt.datasets.load_digits(size=16)
    x_a, y_a = kt.datasets.split_classes(x, y, [0, 1, 2, 3, 4])
    x_b, y_b = kt.datasets.split_classes(x, y, [5, 6, 7, 8, 9])

    base = train_base(args, strategy, x_a, y_a)
    even_a = kt.distribute.trim_to_replicas((x_a, y_a), strategy.num_replicas_in_sync)
    _, base_accuracy = base.evaluate(
        *even_a, batch_size=128 * strategy.num_replicas_in_sync, verbose=0
    )

    results, best = {}, (-1.0, None)
    for budget in args.budgets:
        for seed in range(args.seeds):
            keras.utils.set_random_seed(args.seed + seed)
            train = kt.datasets.per_class_sample(y_b, budget, seed=args.seed + seed)
            test = np.setdiff1d(np.arange(len(y_b)), train)
            data = (x_b[train], y_b[train], x_b[test], y_b[test])
            configs = [(0, "scratch")] + [(d, m) for d in depths for m in ("frozen", "fine-tuned")]
            for depth, mode in configs:
                run = f"budget{budget}_seed{seed}_{mode}_n{depth}"
                model, accuracy = train_on_b(args, strategy, base, depth, mode, *data, run)
                results.setdefault((budget, depth, mode), []).append(accuracy)
                print(f"budget {budget}/class seed {seed} n={depth} {mode:10s} acc={accuracy:.3f}")
                if mode == "fine-tuned" and accuracy > best[0]:
                    best = (accuracy, model)

    rows = [
        {
            "labels per class": budget,
            "n": depth,
            "mode": mode,
            "accuracy": float(np.mean(runs)),
            "std": float(np.std(runs)),
            "seeds": len(runs),
        }
        for (budget, depth, mode), runs in sorted(results.items(), key=lambda kv: kv[0])
    ]
    plot(results, args.budgets, depths, output / "accuracy_vs_depth.png")
    kt.recipe_utils.save_and_export(best[1], output, x_b[:8])
    metrics = {"base_accuracy_on_A": float(base_accuracy), "results": rows}
    table = kt.recipe_utils.markdown_table(
        ["labels per class", "n", "mode", "accuracy", "std", "seeds"], rows, digits=3
    )
    kt.recipe_utils.write_report(
        output,
        "Transfer learning: frozen vs fine-tuned vs scratch",
        metrics,
        {
            "Set-up": (
                f"Digits 16x16; base network trained on classes 0-4 ({len(y_a)} images, "
                f"train accuracy {base_accuracy:.3f}); task B = classes 5-9 with a small "
                f"labeled budget, tested on the rest of B. {args.epochs} epochs on B, Adam "
                f"{args.learning_rate}, fine-tuning multiplier {args.finetune_multiplier}; "
                f"n = 0 is training from scratch."
            ),
            "Accuracy on B (mean and std over seeds)": table,
        },
        images=["accuracy_vs_depth.png"],
        tensorboard=args.tensorboard,
    )
    return metrics


if __name__ == "__main__":
    main()
