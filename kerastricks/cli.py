"""The `kerastricks` command: list and run the recipes, export a trained model.

    kerastricks list
    kerastricks run NAME [recipe arguments...]
    kerastricks export CHECKPOINT OUT [--outputs NAME ...] [--no-check] [--overwrite]

Every command takes `--help`. Errors (an unknown recipe, a bad argument, a file that is
not a Keras model) are one line on stderr and exit code 2.

`list`, every `--help` and every argument error answer without importing TensorFlow: a
recipe's flags come from its `build_parser()`, which the command runs on its own (with the
recipe's standard-library imports, `import kerastricks as kt` and its literal constants)
before it loads the recipe. A recipe run sets `TF_CPP_MIN_LOG_LEVEL=3` (unless already set)
before TensorFlow loads, so that TensorFlow's C++ log lines stay out of the terminal;
the recipe's `--verbose` shows them.
"""

import argparse
import ast
import contextlib
import importlib.util
import os
import re
import sys
import threading
from pathlib import Path

from kerastricks._usage import one_line_errors
from kerastricks.recipe_utils import parse_recipe_args

__all__ = ["main", "recipe_paths"]

# Installed from a wheel, the recipes are the `kerastricks.recipes` package beside this
# file; in a checkout (or an editable install) they are the top-level `recipes/` folder.
RECIPE_FOLDERS = (
    Path(__file__).resolve().parent / "recipes",
    Path(__file__).resolve().parents[1] / "recipes",
)
# What a recipe's `build_parser()` may use: these modules and its literal constants.
PARSER_MODULES = {"argparse", "os", "pathlib", "shutil", "sys", "time", "json", "kerastricks"}


def recipe_paths() -> dict:
    """Returns `{name: path}` for every recipe (shipped in the wheel, or in the checkout)."""
    for folder in RECIPE_FOLDERS:
        paths = sorted(folder.glob("*.py")) if folder.is_dir() else []
        recipes = {p.stem: p for p in paths if not p.name.startswith("_")}
        if recipes:
            return recipes
    return {}


class _UsageError(Exception):
    pass


def _summary(path: Path) -> str:
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def _list() -> int:
    for name, path in recipe_paths().items():
        print(f"{name:28s} {_summary(path)}")
    return 0


def _run(name: str, argv: list) -> int:
    recipes = recipe_paths()
    if name is None:
        raise _UsageError("`kerastricks run` needs a recipe NAME; `kerastricks list` lists them")
    if name not in recipes:
        known = ", ".join(recipes) or "none found"
        raise _UsageError(f"unknown recipe {name!r}; known recipes: {known}")
    program = sys.argv
    sys.argv = [f"kerastricks run {name}", *argv]  # the recipe's usage names this command
    try:
        # --help and argument errors answer here, before TensorFlow loads.
        parser = _recipe_parser(recipes[name])
        # parse_recipe_args also runs the recipe's checks of flags together.
        args = parse_recipe_args(parser, argv) if parser is not None else None
        quiet = not getattr(args, "verbose", False)
        if quiet:
            os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        with _without_tensorflow_log_lines(quiet):
            spec = importlib.util.spec_from_file_location(
                f"kerastricks_recipe_{name}", recipes[name]
            )
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            result = module.main(argv)
    finally:
        sys.argv = program
    return 0 if result is None or isinstance(result, dict) else int(result)


# TensorFlow's C++ runtime logs through absl, which writes some lines to the process's
# stderr before it reads TF_CPP_MIN_LOG_LEVEL ("WARNING: All log messages before
# absl::InitializeLog()...", then `I0000 ... file.cc:31] ...`).
TENSORFLOW_LOG_LINE = re.compile(
    rb"^(WARNING: All log messages before absl::InitializeLog"
    rb"|[IWEF]\d{4} [\d:.]+ +\d+ \S+\.cc:\d+\]"
    rb"|To enable the following instructions: )"
)


@contextlib.contextmanager
def _without_tensorflow_log_lines(active: bool):
    """Passes the process's stderr (file descriptor 2) through a filter of TensorFlow's
    C++ log lines; everything else (Python warnings, tracebacks) still reaches stderr."""
    if not active:
        yield
        return
    sys.stderr.flush()
    terminal = os.dup(2)
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)

    def relay():
        pending = b""
        while chunk := os.read(read_end, 65536):
            *lines, pending = (pending + chunk).split(b"\n")
            kept = [line + b"\n" for line in lines if not TENSORFLOW_LOG_LINE.match(line)]
            if kept:
                os.write(terminal, b"".join(kept))
        if pending and not TENSORFLOW_LOG_LINE.match(pending):
            os.write(terminal, pending)
        os.close(read_end)

    thread = threading.Thread(target=relay, daemon=True)
    thread.start()
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(terminal, 2)  # closes the pipe's last write end: the relay sees its end
        thread.join(timeout=5)  # a child process may still hold the pipe: do not wait on it
        if not thread.is_alive():  # else the relay keeps writing to the terminal
            os.close(terminal)


def _recipe_parser(path: Path):
    """The recipe's `build_parser()`, run without the rest of the recipe (no TensorFlow).

    Returns `None` for a recipe without a top-level `build_parser`.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    kept = []
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
            if all(n and n.split(".")[0] in PARSER_MODULES for n in names):
                kept.append(node)
        elif isinstance(node, ast.Assign) and _is_literal(node.value):
            kept.append(node)
        elif isinstance(node, ast.FunctionDef) and node.name == "build_parser":
            kept.append(node)
    if not any(isinstance(n, ast.FunctionDef) for n in kept):
        return None
    namespace = {"__name__": f"kerastricks_recipe_parser_{path.stem}", "__file__": str(path)}
    namespace["__doc__"] = ast.get_docstring(tree)
    exec(compile(ast.Module(body=kept, type_ignores=[]), str(path), "exec"), namespace)
    return namespace["build_parser"]()


def _is_literal(node) -> bool:
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, RecursionError):
        return False
    return True


def _export(args) -> int:
    checkpoint, out = Path(args.checkpoint), Path(args.out)
    if checkpoint.suffix != ".keras" or not checkpoint.is_file():
        raise _UsageError(f"CHECKPOINT must be an existing .keras file, not {str(checkpoint)!r}")
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not args.overwrite:
        raise _UsageError(f"OUT {str(out)!r} exists and is not empty; pass --overwrite")

    import keras
    import numpy as np

    import kerastricks as kt

    kt.load_all()  # registers kerastricks' objects for loading

    try:
        model = keras.saving.load_model(checkpoint, safe_mode=True)
    except Exception as error:  # a broken or foreign file: say so in one line
        raise _UsageError(f"cannot load {str(checkpoint)!r}: {_first_line(error)}") from error
    try:
        kt.export.export_saved_model(model, out, outputs=args.outputs)
    except (TypeError, ValueError) as error:
        raise _UsageError(_first_line(error)) from error
    message = f"exported {checkpoint} to the SavedModel {out}"
    sample = _random_sample(model, np) if not args.no_check else None
    if sample is not None:
        differences = kt.export.check_saved_model(model, out, sample, outputs=args.outputs)
        largest = max(differences.values())
        message += f"; reloaded and checked on a random batch (largest difference {largest:g})"
    print(message)
    return 0


def _random_sample(model, np):
    """A batch of two random inputs, or `None` when an input has unknown dimensions."""
    rng = np.random.default_rng(0)
    sample = []
    for tensor in model.inputs:
        shape = (2, *tensor.shape[1:])
        if any(d is None for d in shape):
            return None
        dtype = str(tensor.dtype)
        if "int" in dtype:
            sample.append(rng.integers(0, 2, size=shape).astype(dtype))
        else:
            sample.append(rng.normal(size=shape).astype("float32"))
    return sample


def _first_line(error) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _parser() -> argparse.ArgumentParser:
    parser = one_line_errors(
        argparse.ArgumentParser(
            prog="kerastricks", description="Keras 3 tricks for small data and no labels."
        )
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("list", help="list the recipes with one line each")
    run = commands.add_parser(
        "run",
        help="run a recipe: kerastricks run NAME [args]",
        description="Run a recipe; `kerastricks run NAME --help` shows its arguments.",
    )
    run.add_argument("name", nargs="?", metavar="NAME", help="recipe name (`kerastricks list`)")
    run.add_argument(
        "args", nargs=argparse.REMAINDER, metavar="ARGS", help="arguments passed to the recipe"
    )
    export = commands.add_parser(
        "export",
        help="export a .keras model as a SavedModel for serving",
        description=(
            "Load CHECKPOINT (a .keras file, with safe_mode=True) and write a SavedModel to "
            "OUT with a serving_default signature of named float32 inputs and outputs; then "
            "reload it and compare its outputs with the model's on a random batch."
        ),
    )
    export.add_argument("checkpoint", metavar="CHECKPOINT", help="the trained .keras file")
    export.add_argument("out", metavar="OUT", help="the SavedModel folder to write")
    export.add_argument("--outputs", nargs="+", metavar="NAME", help="serve only these outputs")
    export.add_argument("--no-check", action="store_true", help="do not reload and compare")
    export.add_argument("--overwrite", action="store_true", help="write into a non-empty OUT")
    for sub in commands.choices.values():
        one_line_errors(sub)
    return parser


def main(argv=None) -> int:
    """Entry point of the `kerastricks` command; returns the exit code."""
    parser = _parser()
    try:
        args = parser.parse_args(argv)
        if args.command == "list":
            return _list()
        if args.command == "run":
            return _run(args.name, args.args)
        return _export(args)
    except _UsageError as error:
        print(f"kerastricks: error: {error}", file=sys.stderr)
        return 2
    except SystemExit as exit:  # --help, and argparse errors of the command or a recipe
        if exit.code is None or isinstance(exit.code, int):
            return exit.code or 0
        print(f"kerastricks: error: {exit.code}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
