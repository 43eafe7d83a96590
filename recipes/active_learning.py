"""Active learning on digits: random vs entropy, margin, ensemble variation ratio, BALD, CEAL.

What it shows: pool-based active learning with `kt.active.ActiveLearner` on scikit-learn's
bundled 8x8 digits (1,200-image pool, 597 test images), from a small random seed set to a
labeling budget, comparing six ways to choose the next labels:

- `random`: uniform sampling, the baseline;
- `entropy`, `margin`: uncertainty of one CNN's softmax;
- `variation_ratio_ensemble`: disagreement of a 5-member `kt.active.Ensemble`
  (Beluch et al.'s best method);
- `bald_mc_dropout`: BALD from 20 Monte Carlo passes through `kt.layers.MCDropout`;
- `ceal`: entropy queries plus CEAL's confident pseudo-labels (delta 0.05, decay 0.0033).

Every strategy starts from the same random seed set for a given seed and retrains a fresh
model each round. The oracle is the held-back label array; the labels it returns are
written to `<output>/state/<strategy>_seed<k>/`, so `--resume` continues an interrupted
run without buying any label twice. The report gives the learning curves (test accuracy
against labels, mean and spread over seeds), a table, and the labels each strategy needs
to reach 95% of the accuracy of the same model trained on the whole pool.

Papers: Beluch et al., "The power of ensembles for active learning in image
classification" (CVPR 2018); Wang et al., "Cost-Effective Active Learning for Deep Image
Classification" (IEEE TCSVT 2016); Gal, Islam & Ghahramani, "Deep Bayesian Active Learning
with Image Data" (ICML 2017).

Your own images (`--data DIR`, one subfolder per class): a random quarter is the test
set, the rest the pool (its files listed in `<output>/pool.txt`, whose positions the
state's indices are). The simulated oracle reveals the folder names; `--oracle prompt`
asks you instead, one image at a time in the terminal (type a class name or its
number), for one strategy and one seed: `kerastricks run active_learning --data photos/
--oracle prompt --strategies entropy --seeds 1`.

Command: `kerastricks run active_learning` or `python recipes/active_learning.py`
(`--quick` for a smoke run). Time on a laptop CPU: about 20 minutes for the full run
(3 seeds, budget 200); `--quick` about a minute.
"""

import argparse
import shutil
import time
from pathlib import Path

import keras
import matplotlib
import numpy as np

import kerastricks as kt
from kerastricks.datasets import check_image_folder  # for build_parser: no TensorFlow

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

STRATEGIES = {
    "random": {"acquisition": "random"},
    "entropy": {"acquisition": "entropy"},
    "margin": {"acquisition": "margin"},
    "variation_ratio_ensemble": {"acquisition": "variation_ratio", "ensemble": True},
    "bald_mc_dropout": {"acquisition": "bald", "mc_dropout": True},
    "ceal": {"acquisition": "entropy", "ceal": True},
}


def build_model(args, strategy, mc_dropout=False):
    """A small CNN (8x8 digits, or --image-size photos); `MCDropout` keeps dropout on at
    inference for BALD."""
    with strategy.scope():
        dropout = kt.layers.MCDropout(0.25) if mc_dropout else keras.layers.Dropout(0.25)
        model = keras.Sequential(
            [
                keras.Input(args.input_shape, name="image"),
                keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
                keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
                keras.layers.MaxPooling2D(),
                keras.layers.Flatten(),
                keras.layers.Dense(64, activation="relu"),
                dropout,
                keras.layers.Dense(args.num_classes, activation="softmax"),
            ]
        )
        model.compile(
            optimizer=keras.optimizers.Adam(2e-3),
            loss="sparse_categorical_crossentropy",
            metrics=["accuracy"],
            jit_compile=args.jit_compile,
        )
    return model


def model_factory(options, args, strategy):
    if options.get("ensemble"):

        def build_ensemble():
            with strategy.scope():
                return kt.active.Ensemble(lambda: build_model(args, strategy), args.members)

        return build_ensemble
    return lambda: build_model(args, strategy, mc_dropout=options.get("mc_dropout", False))


def recover_answers(learner, oracle):
    """Labels typed in a query cut short (Ctrl-C, a crash) that the learner did not store:
    `--oracle prompt` journals each answer as it is typed, so they are taught back (the
    learner counts a crashed query's indices as lost; `teach` takes them back)."""
    answered = getattr(oracle, "answers", dict)()
    stored = set(learner.labeled_indices.tolist())
    missing = sorted(i for i in answered if i not in stored)
    if missing:
        learner.teach(missing, [answered[i] for i in missing])
    return missing


def run_strategy(name, seed, data, args, strategy, oracle):
    """One active-learning run; returns `[(labels, accuracy), ...]` per round."""
    x_pool, _, x_test, y_test = data
    options = STRATEGIES[name]
    state_dir = Path(args.output) / "state" / f"{name}_seed{seed}"
    if not args.resume:
        shutil.rmtree(state_dir, ignore_errors=True)
    keras.utils.set_random_seed(1000 * args.seed + seed)
    learner = kt.active.ActiveLearner(
        model_factory(options, args, strategy),
        x_pool,
        oracle,
        state_dir,
        kt.active.Acquisition(
            options["acquisition"],
            mc_samples=args.mc_samples if options.get("mc_dropout") else None,
        ),
        plan=kt.active.LabelPlan(
            query_size=args.query_size,
            budget=args.budget,
            initial_size=args.initial,
            seed=1000 * args.seed + seed,
        ),
        training=kt.active.RoundTraining(
            fit_kwargs={
                "epochs": args.epochs,
                "batch_size": 32 * strategy.num_replicas_in_sync,
                "verbose": 0,
            },
            min_epoch_size=args.min_epoch_size,
            ceal_delta=0.05 if options.get("ceal") else None,
            ceal_decay=0.0033,
        ),
        verbose=2,
    )
    recover_answers(learner, oracle)
    history = learner.run(validation_data=(x_test, y_test))
    learner.close()
    # Ensembles and MC dropout also log the accuracy of one member alone, which separates
    # what the acquisition buys from what averaging several members buys.
    return [
        (entry["labels"], entry["accuracy"], entry.get("member_accuracy"), entry["pseudo_labels"])
        for entry in history
    ]


def full_data_model(seed, data, args, strategy):
    """The same CNN trained on the whole labeled pool: the ceiling of the comparison."""
    x_pool, y_pool, x_test, y_test = data
    keras.utils.set_random_seed(1000 * args.seed + seed)
    model = build_model(args, strategy)
    model.fit(
        x_pool,
        y_pool,
        epochs=args.epochs,
        batch_size=32 * strategy.num_replicas_in_sync,
        callbacks=kt.recipe_utils.tensorboard_callbacks(args.tensorboard, f"full_data_seed{seed}"),
        verbose=2,
    )
    accuracy = float((model.predict(x_test, verbose=0).argmax(-1) == y_test).mean())
    return model, accuracy


def summarise(curves, target):
    """Mean/std curves on the common label grid and the labels needed to reach `target`."""
    summary = {}
    for name, runs in curves.items():
        grid = [row[0] for row in runs[0]]
        accuracy = np.array([[row[1] for row in run] for run in runs])
        mean, std = accuracy.mean(axis=0), accuracy.std(axis=0)
        reached = [labels for labels, value in zip(grid, mean, strict=True) if value >= target]
        summary[name] = {
            "labels": grid,
            "mean": mean.tolist(),
            "std": std.tolist(),
            "labels_to_target": reached[0] if reached else None,
        }
        if runs[0][0][2] is not None:
            member = np.array([[row[2] for row in run] for run in runs])
            summary[name]["member_mean"] = member.mean(axis=0).tolist()
        pseudo = np.array([[row[3] for row in run] for run in runs])
        if STRATEGIES[name].get("ceal"):
            summary[name]["pseudo_labels_mean"] = pseudo.mean(axis=0).tolist()
    return summary


def plot(summary, full_accuracy, target, path, title):
    figure, axis = plt.subplots(figsize=(7, 4.5))
    for name, curve in summary.items():
        labels, mean, std = (np.array(curve[key]) for key in ("labels", "mean", "std"))
        (line,) = axis.plot(labels, mean, marker=".", label=name)
        axis.fill_between(labels, mean - std, mean + std, alpha=0.15, color=line.get_color())
        if "member_mean" in curve:
            axis.plot(
                labels,
                curve["member_mean"],
                linestyle="--",
                color=line.get_color(),
                alpha=0.7,
                label=f"{name} (one member)",
            )
    axis.axhline(full_accuracy, color="black", linestyle="--", label="full pool")
    axis.axhline(target, color="gray", linestyle=":", label="95% of full pool")
    axis.set_xlabel("labels used")
    axis.set_ylabel("test accuracy")
    axis.set_title(f"{title} (mean and spread over seeds)")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    quick = {  # no XLA: every round compiles a fresh model, on tiny runs that costs more
        "seeds": 1,
        "budget": 40,
        "epochs": 1,
        "min_epoch_size": 128,
        "members": 2,
        "mc_samples": 4,
        "no_jit": True,
    }
    kt.recipe_utils.add_recipe_arguments(parser, "active_learning", epochs=6, quick=quick)
    count = kt.recipe_utils.positive_int

    def strategy_names(text):
        names = [name.strip() for name in text.split(",")]
        for name in names:
            if name not in STRATEGIES:
                known = ", ".join(STRATEGIES)
                raise argparse.ArgumentTypeError(f"unknown strategy {name!r}; choose from {known}")
        return names

    parser.add_argument("--seeds", type=count, default=3, help="repetitions per strategy")
    parser.add_argument("--initial", type=count, default=20, help="random seed-set size")
    parser.add_argument("--query-size", type=count, default=20, help="labels per round")
    parser.add_argument("--budget", type=count, default=200, help="total labels")
    parser.add_argument("--members", type=count, default=5, help="ensemble members")
    parser.add_argument("--mc-samples", type=count, default=20, help="MC dropout passes")
    parser.add_argument("--min-epoch-size", type=count, default=512)
    parser.add_argument(
        "--strategies", type=strategy_names, default=list(STRATEGIES), help="comma-separated"
    )
    parser.add_argument("--resume", action="store_true", help="keep the stored labels")

    parser.add_argument(
        "--data",
        type=kt.recipe_utils.layout_argument(check_image_folder),
        metavar="DIR",
        help="your images: DIR/<class>/<image>",
    )
    parser.add_argument("--image-size", type=count, default=32, help="pixels (with --data)")
    parser.add_argument(
        "--oracle",
        choices=("simulated", "prompt"),
        default="simulated",
        help="who labels: the known labels (folder names), or you in the terminal",
    )

    def one_run_when_prompted(args):
        if args.oracle == "prompt" and (
            args.data is None or len(args.strategies) > 1 or args.seeds > 1
        ):
            return "--oracle prompt asks you: give --data, one of --strategies, --seeds 1"
        return None

    kt.recipe_utils.add_flag_check(parser, one_run_when_prompted)  # before TensorFlow loads
    return parser


def load_data(args):
    """Pool and test images with their labels, class names and files (None for digits)."""
    if args.data is None:  # a fixed split of the 1,797 digits into a pool and a test set
        x, y = kt.datasets.load_digits()
        names, paths, test_size = [str(d) for d in range(10)], None, 597
    else:  # a random quarter of the images (no fewer than the classes) is the test set
        size = (args.image_size, args.image_size)
        x, y, names = kt.datasets.image_folder(args.data, size)
        x = x / 255.0
        paths = [
            str(p) for files in kt.datasets.check_image_folder(args.data).values() for p in files
        ]
        test_size = max(len(names), len(x) // 4)
    order = np.random.default_rng(0).permutation(len(x))
    test, pool = order[:test_size], order[test_size:]
    pool_paths = None if paths is None else [paths[i] for i in pool]
    if pool_paths is not None:  # the state's indices are positions in this list
        Path(args.output).mkdir(parents=True, exist_ok=True)
        (Path(args.output) / "pool.txt").write_text("\n".join(pool_paths) + "\n")
    return (x[pool], y[pool], x[test], y[test]), names, pool_paths


def main(argv=None):
    args = kt.recipe_utils.parse_recipe_args(build_parser(), argv)
    names = args.strategies
    strategy = kt.recipe_utils.prepare_run(args)
    output = Path(args.output)

    # Data: digits, or your class folders; the oracle reveals the pool's labels.
    data, class_names, pool_paths = load_data(args)
    args.input_shape, args.num_classes = data[0].shape[1:], len(class_names)
    title = "Active learning on digits" if args.data is None else f"Active learning on {args.data}"
    if args.oracle == "prompt":
        journal = output / "state" / f"{names[0]}_seed0" / "prompt_answers.jsonl"
        oracle = kt.active.prompt_oracle(pool_paths, class_names, journal=journal)
    else:  # the known labels (digits, or folder names): a human annotator in real life
        oracle = lambda indices: data[1][indices]  # noqa: E731

    # The ceiling: the same model trained on every pool label.
    full = [full_data_model(seed, data, args, strategy) for seed in range(args.seeds)]
    full_accuracy = float(np.mean([accuracy for _, accuracy in full]))
    target = 0.95 * full_accuracy

    # Active learning, every strategy over every seed.
    curves, seconds = {}, {}
    for name in names:
        start = time.perf_counter()
        curves[name] = [
            run_strategy(name, seed, data, args, strategy, oracle) for seed in range(args.seeds)
        ]
        seconds[name] = round(time.perf_counter() - start, 1)
        for seed, curve in enumerate(curves[name]):
            points = [(labels, accuracy) for labels, accuracy, *_ in curve]
            run = f"{name}_seed{seed}"
            kt.recipe_utils.write_scalars(args.tensorboard, run, {"test_accuracy": points})
        print(f"{name}: {curves[name][0][-1]} in {seconds[name]} s", flush=True)
    summary = summarise(curves, target)

    # Report.
    plot(summary, full_accuracy, target, output / "learning_curves.png", title)
    grid = summary[names[0]]["labels"]
    rows = [
        [labels] + [f"{summary[n]['mean'][i]:.3f} ± {summary[n]['std'][i]:.3f}" for n in names]
        for i, labels in enumerate(grid)
    ]
    curve_table = kt.recipe_utils.markdown_table(["labels", *names], rows)
    target_rows = [
        [
            name,
            summary[name]["labels_to_target"] or f"> {args.budget}",
            f"{summary[name]['mean'][-1]:.3f} ± {summary[name]['std'][-1]:.3f}",
            seconds[name],
        ]
        for name in names
    ]
    target_table = kt.recipe_utils.markdown_table(
        ["strategy", f"labels to {target:.3f}", f"accuracy at {args.budget}", "seconds"],
        target_rows,
    )
    with_members = [n for n in names if "member_mean" in summary[n]]
    member_rows = [
        [labels] + [f"{summary[n]['member_mean'][i]:.3f}" for n in with_members]
        for i, labels in enumerate(grid)
    ]
    member_table = kt.recipe_utils.markdown_table(["labels", *with_members], member_rows)
    with_pseudo = [n for n in names if "pseudo_labels_mean" in summary[n]]
    pseudo_rows = [
        [labels] + [round(summary[n]["pseudo_labels_mean"][i], 1) for n in with_pseudo]
        for i, labels in enumerate(grid)
    ]
    pseudo_table = kt.recipe_utils.markdown_table(["labels", *with_pseudo], pseudo_rows)
    metrics = {
        "full_data_accuracy": full_accuracy,
        "target_accuracy": target,
        "labels_to_target": {n: summary[n]["labels_to_target"] for n in names},
        "final_accuracy": {n: summary[n]["mean"][-1] for n in names},
        "curves": summary,
        "seconds": seconds,
        "classes": class_names,
        "pool_size": len(data[1]),
        "test_size": len(data[3]),
        "oracle": args.oracle,
        "settings": {
            key: getattr(args, key)
            for key in (
                "seeds",
                "initial",
                "query_size",
                "budget",
                "epochs",
                "members",
                "mc_samples",
                "min_epoch_size",
            )
        },
    }
    settings = (
        f"{args.seeds} seed(s); seed set {args.initial}, {args.query_size} labels per round, "
        f"budget {args.budget}; {args.epochs} epochs of at least {args.min_epoch_size} "
        f"samples per round; ensemble of {args.members}; {args.mc_samples} MC passes. "
        f"Full-pool accuracy {full_accuracy:.4f} (target = 95%: {target:.4f})."
    )
    kt.recipe_utils.write_report(
        output,
        title,
        metrics,
        {
            "Settings": settings,
            "Labels to reach 95% of full-pool accuracy": target_table,
            "Test accuracy against labels (mean ± std over seeds)": curve_table,
            "One member alone (mean over members and seeds)": member_table,
            "CEAL pseudo-labels trained on per round (mean over seeds)": pseudo_table,
        },
        images=["learning_curves.png"],
        tensorboard=args.tensorboard,
    )
    kt.recipe_utils.save_and_export(full[-1][0], output, data[2][:8])
    return metrics


if __name__ == "__main__":
    main()
