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

    kerastricks run transfer_learning            # full run: 485 s of CPU time (< 10 min)
    kerastricks run transfer_learning --quick    # smoke run: well under a minute
"""

import argparse
from pathlib import Path

import keras
import numpy as np

import kerastricks as kt

CONV_LAYERS = ["conv1", "conv2", "conv3", "conv4"]


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


def train_base(args, strategy, x_a, y_a):
    """Task A: the base network, trained on every image of classes 0-4."""
    x_a, y_a = kt.distribute.trim_to_replicas((x_a, y_a), strategy.num_replicas_in_sync)
    with strategy.scope():
        base = build_network(5)
        base.compile(
            optimizer=keras.optimizers.Adam(1e-3),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
            jit_compile=args.jit_compile,
        )
    base.fit(
        x_a,
        y_a,
        batch_size=32 * strategy.num_replicas_in_sync,
        epochs=args.base_epochs,
        validation_split=0.1 if strategy.num_replicas_in_sync == 1 else 0.0,
        verbose=2,
    )
    return base


def train_on_b(args, strategy, base, depth, mode, x_train, y_train, x_test, y_test):
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
        model.compile(
            optimizer=optimizer,
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
            jit_compile=args.jit_compile,
        )
    model.fit(
        x_train,
        y_train,
        batch_size=min(len(x_train), 16 * replicas),
        epochs=args.epochs,
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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    kt.recipe_utils.add_recipe_arguments(parser, "transfer_learning", epochs=120)
    parser.add_argument("--base-epochs", type=int, default=30, help="epochs on task A")
    parser.add_argument("--learning-rate", type=float, default=3e-3)
    parser.add_argument("--finetune-multiplier", type=float, default=0.1)
    parser.add_argument("--budgets", type=int, nargs="+", default=[3, 10], help="labels/class")
    parser.add_argument("--seeds", type=int, default=3, help="repetitions per configuration")
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs, args.base_epochs, args.budgets, args.seeds = 15, 3, [5], 1
    depths = [2] if args.quick else [1, 2, 3, 4]
    strategy = kt.recipe_utils.prepare_run(args)
    output = Path(args.output)

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
                model, accuracy = train_on_b(args, strategy, base, depth, mode, *data)
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
    )
    return metrics


if __name__ == "__main__":
    main()
