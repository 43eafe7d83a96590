"""What every recipe shares: its command-line flags, its set-up, and its report.

A recipe calls `add_recipe_arguments(parser)`, then `strategy = prepare_run(args)`, builds
and trains its models under `strategy.scope()`, and ends with `save_and_export(model, ...)`
(a `.keras` file and a SavedModel, both reloaded and checked) and `write_report(...)`,
which writes `metrics.json` and `report.md` (tables in Markdown, links to the PNGs it
saved).
"""

import argparse
import json
from pathlib import Path

import keras
import tensorflow as tf

from kerastricks._checks import check_type
from kerastricks._usage import one_line_errors
from kerastricks.distribute import is_chief, worker_dir
from kerastricks.distribute import strategy as select_strategy
from kerastricks.export import check_keras_round_trip, check_saved_model, export_saved_model

__all__ = [
    "add_recipe_arguments",
    "markdown_table",
    "prepare_run",
    "save_and_export",
    "write_report",
]


def add_recipe_arguments(parser: argparse.ArgumentParser, name: str, epochs: int):
    """Adds the flags every recipe takes to `parser` and returns it.

    Flags: `--epochs` (default `epochs`), `--output` (default `out/NAME`), `--quick` (a run
    of a minute or two on a laptop CPU), `--distribute` (`auto`, `default`, `mirrored`,
    `multiworker`), `--mixed-precision`, `--no-jit` and `--seed`. A bad flag is reported
    in one line on stderr, with exit code 2, as by the `kerastricks` command.

    Args:
        parser: the recipe's `argparse.ArgumentParser`.
        name: the recipe's name, used for the default output folder.
        epochs: the default number of epochs of a full run.

    Returns:
        `parser`, for chaining.

    Example:

    >>> import argparse
    >>> import kerastricks as kt
    >>> parser = kt.recipe_utils.add_recipe_arguments(argparse.ArgumentParser(), "demo", 5)
    >>> args = parser.parse_args(["--quick"])
    >>> args.quick, args.epochs, args.output, args.distribute
    (True, 5, 'out/demo', 'auto')
    """
    check_type("parser", parser, argparse.ArgumentParser, "an argparse.ArgumentParser")
    one_line_errors(parser)  # a bad flag is one line on stderr and exit code 2
    parser.add_argument("--epochs", type=int, default=epochs, help="epochs of a full run")
    parser.add_argument("--output", default=f"out/{name}", help="folder for the report")
    parser.add_argument("--quick", action="store_true", help="a run of a minute or two on a CPU")
    parser.add_argument(
        "--distribute",
        choices=("auto", "default", "mirrored", "multiworker"),
        default="auto",
        help="tf.distribute strategy; the global batch scales with the replicas",
    )
    parser.add_argument(
        "--mixed-precision", action="store_true", help="train under the mixed_float16 policy"
    )
    parser.add_argument("--no-jit", action="store_true", help="do not XLA-compile the steps")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    return parser


def prepare_run(args: argparse.Namespace):
    """Seeds everything, sets the precision policy, makes the output folder.

    Also sets `args.jit_compile` for `model.compile`: `True` unless `--no-jit`, or unless
    the strategy mirrors over several logical CPUs, which XLA cannot place one compiled
    step on (TensorFlow's XLA known issue "tf.Variable on a different device"), or runs
    several CPU workers. On a multi-worker cluster every worker runs the whole recipe; the
    chief writes into `--output`, the other workers into their `worker_dir` inside it.

    Args:
        args: the parsed flags of `add_recipe_arguments`.

    Returns:
        The `tf.distribute` strategy chosen by `--distribute`.

    Example:

    >>> import argparse, tempfile
    >>> import kerastricks as kt
    >>> parser = kt.recipe_utils.add_recipe_arguments(argparse.ArgumentParser(), "demo", 5)
    >>> args = parser.parse_args(["--output", tempfile.mkdtemp(), "--distribute", "default"])
    >>> kt.recipe_utils.prepare_run(args).num_replicas_in_sync
    1
    """
    keras.utils.set_random_seed(args.seed)
    keras.config.set_dtype_policy("mixed_float16" if args.mixed_precision else "float32")
    strategy = select_strategy(args.distribute)
    if not is_chief(strategy):  # every worker runs the recipe; only the chief's files count
        args.output = worker_dir(args.output, strategy)
    Path(args.output).mkdir(parents=True, exist_ok=True)
    on_cpus = not tf.config.list_logical_devices("GPU")
    args.jit_compile = not args.no_jit and not (on_cpus and strategy.num_replicas_in_sync > 1)
    return strategy


def save_and_export(
    model: keras.Model, output, sample, outputs=None, name: str = "model", export: bool = True
) -> dict:
    """Ships a recipe's model: a checked `.keras` file and a checked SavedModel.

    Writes `output/{name}.keras`, loads it back with `safe_mode=True` and checks that its
    outputs on `sample` are identical (`kt.export.check_keras_round_trip`); then, if
    `export`, writes `output/saved_model` (`"model"`) or `output/{name}_saved_model` with
    `kt.export.export_saved_model` (named float32 inputs and outputs) and checks that
    `tf.saved_model.load` serves the model's outputs on `sample`
    (`kt.export.check_saved_model`). A recipe that returns has shipped a model that reloads.

    Args:
        model: a built functional or `Sequential` model.
        output: the output folder.
        sample: a batch of inputs, as `model` takes them.
        outputs: the output names to serve in the SavedModel, or `None` for all.
            Defaults to `None`.
        name: the file stem. Defaults to `"model"`.
        export: also write and check the SavedModel. Defaults to `True`.

    Returns:
        `{"keras": path, "saved_model": path or None, "saved_model_max_abs_diff":
        {output: difference}}` with paths as strings.

    Raises:
        AssertionError: a reloaded model's outputs differ from `model`'s.

    Example:

    >>> import tempfile, keras, numpy as np
    >>> import kerastricks as kt
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="logits")])
    >>> shipped = kt.recipe_utils.save_and_export(model, tempfile.mkdtemp(), np.ones((4, 3)))
    >>> shipped["saved_model_max_abs_diff"]
    {'logits': 0.0}
    """
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    keras_path = output / f"{name}.keras"
    check_keras_round_trip(model, keras_path, sample)
    result = {"keras": str(keras_path), "saved_model": None, "saved_model_max_abs_diff": {}}
    if export:
        folder = output / ("saved_model" if name == "model" else f"{name}_saved_model")
        export_saved_model(model, folder, outputs=outputs)
        result["saved_model"] = str(folder)
        result["saved_model_max_abs_diff"] = check_saved_model(model, folder, sample, outputs)
    return result


def markdown_table(columns: list, rows: list, digits: int = 4) -> str:
    """Formats rows (lists, or dicts keyed by column) as a Markdown table.

    Args:
        columns: the column headers.
        rows: one list of values, or one dict keyed by `columns`, per row.
        digits: significant digits for floats. Defaults to 4.

    Returns:
        The table as a string, one line per row.

    Example:

    >>> import kerastricks as kt
    >>> print(kt.recipe_utils.markdown_table(["mode", "acc"], [["frozen", 0.91234]]))
    | mode | acc |
    | --- | --- |
    | frozen | 0.9123 |
    """

    def cell(value):
        return f"{value:.{digits}g}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(columns) + " |", "| " + " | ".join("---" for _ in columns) + " |"]
    for row in rows:
        values = [row[c] for c in columns] if isinstance(row, dict) else list(row)
        lines.append("| " + " | ".join(cell(v) for v in values) + " |")
    return "\n".join(lines)


def write_report(output, title: str, metrics: dict, sections: dict, images=()) -> Path:
    """Writes `metrics.json` and `report.md` into `output`; returns the report's path.

    Args:
        output: the output folder.
        title: the report's heading.
        metrics: JSON-able results, written to `metrics.json`.
        sections: `{heading: markdown text}`, written in order.
        images: file names (relative to `output`) of PNGs to show at the end.

    Returns:
        The path of `report.md`.

    Example:

    >>> import tempfile
    >>> import kerastricks as kt
    >>> path = kt.recipe_utils.write_report(tempfile.mkdtemp(), "Demo", {"acc": 0.5},
    ...                                     {"Results": "all good"})
    >>> path.name
    'report.md'
    """
    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    (output / "metrics.json").write_text(json.dumps(metrics, indent=2, default=float) + "\n")
    parts = [f"# {title}", ""]
    for heading, text in sections.items():
        parts += [f"## {heading}", "", text.strip(), ""]
    for image in images:
        parts += [f"![{Path(image).stem}]({image})", ""]
    report = output / "report.md"
    report.write_text("\n".join(parts))
    return report
