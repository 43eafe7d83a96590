"""What every recipe shares: its command-line flags, its set-up, and its report.

A recipe builds its flags in a `build_parser()` that calls `add_recipe_arguments(parser,
...)`, reads them with `parse_recipe_args(build_parser(), argv)`, then calls
`strategy = prepare_run(args)`, builds and trains its models under `strategy.scope()`, and
ends with `save_and_export(model, ...)` (a `.keras` file and a SavedModel, both reloaded
and checked) and `write_report(...)`, which writes `metrics.json` and `report.md` (tables
in Markdown, links to the PNGs it saved).

Importing this module does not import TensorFlow (the argument helpers need none; the
`kerastricks` command answers `--help` and argument errors without it).
"""

import argparse
import weakref
from pathlib import Path

from kerastricks._checks import check_type, fail
from kerastricks._recipe_export import save_and_export
from kerastricks._recipe_report import markdown_table, write_report
from kerastricks._recipe_tensorboard import tensorboard_callbacks, write_scalars
from kerastricks._usage import one_line_errors

__all__ = [
    "add_flag_check",
    "add_recipe_arguments",
    "layout_argument",
    "markdown_table",
    "non_negative_int",
    "parse_recipe_args",
    "positive_int",
    "prepare_run",
    "save_and_export",
    "tensorboard_callbacks",
    "write_report",
    "write_scalars",
]


def _integer_at_least(lowest: int, words: str):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
        if value < lowest:
            raise argparse.ArgumentTypeError(f"expected {words}, got {value}")
        return value

    parse.__name__ = words  # argparse names the type in its messages
    return parse


positive_int = _integer_at_least(1, "an integer >= 1")
positive_int.__doc__ = """An `argparse` type: an integer of at least 1, else a one-line error.

Example:

>>> import kerastricks as kt
>>> kt.recipe_utils.positive_int("3")
3
"""
non_negative_int = _integer_at_least(0, "an integer >= 0")
non_negative_int.__doc__ = """An `argparse` type: an integer of at least 0, else a one-line error.

Example:

>>> import kerastricks as kt
>>> kt.recipe_utils.non_negative_int("0")
0
"""


def layout_argument(check):
    """An `argparse` type for a `--data` folder: `check(folder)` validates its layout.

    The check (such as `kt.datasets.check_image_folder`) runs while the flags are parsed,
    before TensorFlow loads; its `ValueError` becomes argparse's one-line error naming the
    flag (exit code 2). The folder is returned as typed.

    Args:
        check: a callable that raises `ValueError` for a folder of the wrong layout.

    Returns:
        The `argparse` type.

    Example:

    >>> import kerastricks as kt
    >>> folder = kt.recipe_utils.layout_argument(kt.datasets.check_image_folder)
    >>> folder("no/such/folder")
    Traceback (most recent call last):
    argparse.ArgumentTypeError: The data folder does not exist (or is not a folder). ...
    """

    def parse(text):
        try:
            check(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
        return text

    parse.__name__ = "data folder"
    return parse


_QUICK_DEFAULTS = weakref.WeakKeyDictionary()  # parser -> its --quick defaults
_FLAG_CHECKS = weakref.WeakKeyDictionary()  # parser -> its checks of flags together


def add_flag_check(parser: argparse.ArgumentParser, check) -> None:
    """Registers a check of flags that depend on each other, run by `parse_recipe_args`.

    `check(args)` returns `None` when the parsed flags go together, else the message of a
    one-line usage error (exit code 2). It runs on the final flags (after `--quick` has
    filled its defaults), in `parse_recipe_args`, which the `kerastricks` command also
    calls before it loads the recipe: so the error comes before TensorFlow loads. Define
    the check inside the recipe's `build_parser()` (the command runs that function alone).

    Args:
        parser: the recipe's `argparse.ArgumentParser`.
        check: a callable taking the parsed flags, returning `None` or a message.

    Example:

    >>> import argparse
    >>> import kerastricks as kt
    >>> parser = kt.recipe_utils.add_recipe_arguments(argparse.ArgumentParser(), "demo", 5)
    >>> _ = parser.add_argument("--first", type=int, default=1)
    >>> _ = parser.add_argument("--last", type=int, default=2)
    >>> def in_order(args):
    ...     return None if args.first <= args.last else "--first must not exceed --last"
    >>> kt.recipe_utils.add_flag_check(parser, in_order)
    >>> kt.recipe_utils.parse_recipe_args(parser, ["--last", "4"]).last
    4
    """
    check_type("parser", parser, argparse.ArgumentParser, "an argparse.ArgumentParser")
    if not callable(check):
        fail("`check` must be a callable.", "check", check, TypeError)
    _FLAG_CHECKS.setdefault(parser, []).append(check)


def add_recipe_arguments(
    parser: argparse.ArgumentParser, name: str, epochs: int, quick: dict | None = None
):
    """Adds the flags every recipe takes to `parser` and returns it.

    Flags: `--epochs` (default `epochs`), `--output` (default `out/NAME`), `--quick` (a run
    of a minute or two on a laptop CPU), `--distribute` (`auto`, `default`, `mirrored`,
    `multiworker`), `--mixed-precision`, `--no-jit`, `--seed`, `--tensorboard DIR` (event
    files for TensorBoard) and `--verbose` (TensorFlow's own log lines; the `kerastricks`
    command hides them otherwise). A bad flag is reported in one line on stderr, with exit
    code 2, as by the `kerastricks` command.

    `--quick` changes defaults only: `parse_recipe_args` applies `quick` (`{dest: value}`)
    to the flags the user did not type, so `--quick --epochs 5` trains 5 epochs.

    Args:
        parser: the recipe's `argparse.ArgumentParser`.
        name: the recipe's name, used for the default output folder.
        epochs: the default number of epochs of a full run.
        quick: the defaults of a `--quick` run, keyed by flag destination
            (`{"epochs": 1}`). Defaults to `None` (no change).

    Returns:
        `parser`, for chaining.

    Example:

    >>> import argparse
    >>> import kerastricks as kt
    >>> parser = kt.recipe_utils.add_recipe_arguments(
    ...     argparse.ArgumentParser(), "demo", 5, quick={"epochs": 1})
    >>> args = kt.recipe_utils.parse_recipe_args(parser, ["--quick"])
    >>> args.quick, args.epochs, args.output, args.distribute
    (True, 1, 'out/demo', 'auto')
    >>> kt.recipe_utils.parse_recipe_args(parser, ["--quick", "--epochs", "5"]).epochs
    5
    """
    check_type("parser", parser, argparse.ArgumentParser, "an argparse.ArgumentParser")
    one_line_errors(parser)  # a bad flag is one line on stderr and exit code 2
    _QUICK_DEFAULTS[parser] = dict(quick or {})
    parser.add_argument(
        "--epochs", type=non_negative_int, default=epochs, help="epochs of a full run"
    )
    parser.add_argument("--output", default=f"out/{name}", help="folder for the report")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a run of a minute or two on a CPU (changes only defaults: flags you type win)",
    )
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
    parser.add_argument(
        "--tensorboard", metavar="DIR", help="write TensorBoard event files into DIR"
    )
    parser.add_argument("--verbose", action="store_true", help="show TensorFlow's own log lines")
    return parser


def parse_recipe_args(parser: argparse.ArgumentParser, argv=None) -> argparse.Namespace:
    """Parses a recipe's flags; with `--quick`, its quick defaults fill the untyped flags.

    Then runs the checks registered with `add_flag_check`; a failed one is a one-line
    usage error (exit code 2).

    Args:
        parser: a parser made by `add_recipe_arguments`.
        argv: the arguments, or `None` for `sys.argv[1:]`. Defaults to `None`.

    Returns:
        The parsed flags.

    Example:

    >>> import argparse
    >>> import kerastricks as kt
    >>> parser = kt.recipe_utils.add_recipe_arguments(
    ...     argparse.ArgumentParser(), "demo", 5, quick={"epochs": 1, "seed": 7})
    >>> args = kt.recipe_utils.parse_recipe_args(parser, ["--quick", "--seed", "3"])
    >>> args.epochs, args.seed
    (1, 3)
    """
    check_type("parser", parser, argparse.ArgumentParser, "an argparse.ArgumentParser")
    args = parser.parse_args(argv)
    quick = _QUICK_DEFAULTS.get(parser, {})
    if getattr(args, "quick", False) and quick:
        # Defaults fill only the flags not typed: parse again with the quick defaults.
        full = {dest: parser.get_default(dest) for dest in quick}
        parser.set_defaults(**quick)
        try:
            args = parser.parse_args(argv)
        finally:
            parser.set_defaults(**full)
    for check in _FLAG_CHECKS.get(parser, []):
        message = check(args)
        if message:
            parser.error(message)
    return args


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
    import keras
    import tensorflow as tf

    from kerastricks.distribute import is_chief, worker_dir
    from kerastricks.distribute import strategy as select_strategy

    keras.utils.set_random_seed(args.seed)
    keras.config.set_dtype_policy("mixed_float16" if args.mixed_precision else "float32")
    strategy = select_strategy(args.distribute)
    if not is_chief(strategy):  # every worker runs the recipe; only the chief's files count
        args.output = worker_dir(args.output, strategy)
    Path(args.output).mkdir(parents=True, exist_ok=True)
    on_cpus = not tf.config.list_logical_devices("GPU")
    args.jit_compile = not args.no_jit and not (on_cpus and strategy.num_replicas_in_sync > 1)
    return strategy
