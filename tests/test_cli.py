"""The `kerastricks` command, run as a subprocess (`python -m kerastricks`) like a user would.

TensorFlow's C++ runtime writes a few start-up lines to stderr when it is imported
(absl's "WARNING: All log messages before absl::InitializeLog()..." and `I0000 ...` info
lines), whatever `TF_CPP_MIN_LOG_LEVEL` says; `kerastricks_lines` leaves those out and
checks what the command itself writes.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

import kerastricks as kt
from kerastricks import cli

ROOT = Path(__file__).resolve().parents[1]
TENSORFLOW_STARTUP = re.compile(
    r"^(WARNING: All log messages before absl|[IWE]\d{4} [\d:.]+ +\d+ \S+\.cc:\d+\]"
    r"|To enable the following instructions)"
)


def kerastricks(*args, cwd=None, tf_log_level="2"):
    """Runs `python -m kerastricks ARGS` on this checkout; returns the completed process."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL=tf_log_level)
    if tf_log_level is None:
        del env["TF_CPP_MIN_LOG_LEVEL"]
    return subprocess.run(
        [sys.executable, "-m", "kerastricks", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd or ROOT,
        timeout=600,
    )


def kerastricks_lines(stderr):
    return [line for line in stderr.splitlines() if not TENSORFLOW_STARTUP.match(line)]


def assert_usage_error(result, pattern):
    lines = kerastricks_lines(result.stderr)
    assert result.returncode == 2, (result.returncode, result.stderr)
    assert len(lines) == 1, lines
    assert re.search(pattern, lines[0]), lines[0]
    return lines[0]


def test_list_prints_each_recipe_with_its_summary():
    result = kerastricks("list")
    assert result.returncode == 0, result.stderr
    rows = dict(line.split(None, 1) for line in result.stdout.splitlines())
    assert set(rows) == set(cli.recipe_paths())
    # The summary is the first line of the recipe's docstring.
    assert rows["transfer_learning"].startswith("Transfer learning at small scale")
    assert kerastricks_lines(result.stderr) == []


def test_unknown_recipe_and_bad_recipe_flag_are_one_line_errors():
    line = assert_usage_error(kerastricks("run", "no_such_recipe"), r"unknown recipe")
    assert "'no_such_recipe'" in line and "transfer_learning" in line
    # The recipe's own argparse error, reported through `kerastricks run`.
    assert_usage_error(
        kerastricks("run", "transfer_learning", "--epochs", "many"),
        r"^kerastricks run transfer_learning: error: argument --epochs: invalid int value",
    )


def without_tensorflow(*argv):
    """Runs `kerastricks ARGV` in a fresh process that reports whether TensorFlow or Keras
    was imported (as the last line of its stdout)."""
    program = (
        "import sys\n"
        "from kerastricks.cli import main\n"
        "code = main(sys.argv[1:])\n"
        "heavy = sorted(m for m in ('tensorflow', 'keras') if m in sys.modules)\n"
        "print('imported:', heavy)\n"
        "sys.exit(code)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    result = subprocess.run(
        [sys.executable, "-c", program, *map(str, argv)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=600,
    )
    *answer, imported = result.stdout.splitlines()
    return result, "\n".join(answer), imported


def test_list_imports_no_tensorflow_and_prints_only_its_answer():
    result, answer, imported = without_tensorflow("list")
    assert result.returncode == 0 and result.stderr == "", result.stderr
    assert imported == "imported: []"
    assert [line.split()[0] for line in answer.splitlines()] == sorted(cli.recipe_paths())
    assert len(cli.recipe_paths()) == 6


@pytest.mark.parametrize(
    "argv, code, pattern",
    [
        (["run", "multitask", "--help"], 0, r"^usage: kerastricks run multitask"),
        (["run", "vid2depth", "--help"], 0, r"^usage: kerastricks run vid2depth"),
        (["export", "--help"], 0, r"^usage: kerastricks export"),
        (["run", "multitask", "--epochs", "-3"], 2, r"argument --epochs: .*>= 0, got -3"),
        (["run", "transfer_learning", "--seeds", "0"], 2, r"argument --seeds: .*>= 1, got 0"),
        (["run", "vid2depth", "--scales", "7"], 2, r"argument --scales: invalid choice"),
        (["run", "active_learning", "--strategies", "random,bogus"], 2, r"'bogus'"),
        (["run", "surrogate_targets", "--no-such-flag"], 2, r"unrecognized arguments"),
        (["run", "colorization_tracking", "--data", "no/such"], 2, r"argument --data: .*exist"),
        (["run", "active_learning", "--data", "no/such"], 2, r"argument --data: .*exist"),
        (["run", "vid2depth", "--data", "no/such"], 2, r"argument --data: .*exist"),
        (["run", "vid2depth", "--eval-depth", "no/such.npy"], 2, r"argument --eval-depth: "),
        # Flags that go together: checked before TensorFlow loads as well.
        (["run", "vid2depth", "--automask"], 2, r"--automask needs --min-reprojection"),
        (["run", "active_learning", "--oracle", "prompt"], 2, r"--oracle prompt asks you"),
    ],
)
def test_help_and_argument_errors_import_no_tensorflow(argv, code, pattern):
    result, answer, imported = without_tensorflow(*argv)
    assert imported == "imported: []"
    assert result.returncode == code, (result.returncode, result.stderr)
    if code == 0:  # help: on stdout, nothing on stderr
        assert re.search(pattern, answer) and result.stderr == "", result.stderr
    else:  # one line on stderr naming the argument, nothing on stdout
        assert answer == "" and len(result.stderr.splitlines()) == 1, result.stderr
        assert re.search(pattern, result.stderr), result.stderr


def test_quick_sets_defaults_and_never_overrides_typed_flags():
    from kerastricks.recipe_utils import parse_recipe_args
    from tests.helpers import load_recipe

    parser = load_recipe("multitask").build_parser()
    full = parse_recipe_args(parser, [])
    quick = parse_recipe_args(parser, ["--quick"])
    typed = parse_recipe_args(parser, ["--quick", "--epochs", "5", "--train-size", "300"])
    # multitask's full defaults and its quick defaults, as its build_parser states them.
    assert (full.epochs, full.train_size, full.test_size) == (8, 1536, 512)
    assert (quick.epochs, quick.train_size, quick.test_size) == (1, 128, 64)
    assert (typed.epochs, typed.train_size, typed.test_size) == (5, 300, 64)
    # Parsing with --quick leaves the parser's own defaults untouched.
    assert parse_recipe_args(parser, []).epochs == 8


@pytest.mark.parametrize("verbose", [False, True])
def test_tensorflow_log_lines_are_filtered_from_stderr(capfd, verbose):
    lines = [
        b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
        b"I0000 00:00:1795701789.839910    6694 cudart_stub.cc:31] Could not find cuda drivers",
        b"a Python warning the user must see",
        b"E0000 00:00:1795701804.607908    6694 cuda_platform.cc:52] failed call to cuInit",
        b"Traceback (most recent call last):",
    ]
    with cli._without_tensorflow_log_lines(active=not verbose):
        os.write(2, b"\n".join(lines) + b"\n")
    shown = capfd.readouterr().err.splitlines()
    expected = lines if verbose else [lines[2], lines[4]]
    assert shown == [line.decode() for line in expected]


# A whole `kerastricks run NAME --quick`, as a user runs it (no TF_CPP_MIN_LOG_LEVEL; no
# TensorFlow log lines on stderr; the report written), is run by .ci/wheel from the
# installed wheel; each recipe's own quick run is in tests/recipes/.


def small_model():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((5,), name="features")
    hidden = keras.layers.Dense(4, activation="relu", name="trunk")(inputs)
    model = keras.Model(
        inputs,
        {"score": keras.layers.Dense(1)(hidden), "auxiliary": keras.layers.Dense(3)(hidden)},
    )
    optimizer = kt.optimizers.LearningRateMultiplier("adam", {"trunk": 0.5})
    model.compile(optimizer=optimizer, loss={"score": "mse", "auxiliary": "mse"})
    # One step, as for a real checkpoint (Keras warns when it reloads an unbuilt optimizer).
    y = {"score": np.zeros((4, 1)), "auxiliary": np.zeros((4, 3))}
    model.fit(np.ones((4, 5), "float32"), y, verbose=0)
    return model


def test_export_writes_a_checked_saved_model(tmp_path):
    model = small_model()
    model.save(tmp_path / "model.keras")
    result = kerastricks(
        "export", tmp_path / "model.keras", tmp_path / "served", "--outputs", "score"
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "reloaded and checked on a random batch" in result.stdout
    serve = tf.saved_model.load(str(tmp_path / "served")).signatures["serving_default"]
    assert sorted(serve.structured_outputs) == ["score"]
    x = np.random.default_rng(0).normal(size=(3, 5)).astype("float32")
    np.testing.assert_array_equal(
        serve(features=tf.constant(x))["score"].numpy(), model(x)["score"].numpy()
    )

    # A second export into the now non-empty folder needs --overwrite.
    assert_usage_error(
        kerastricks("export", tmp_path / "model.keras", tmp_path / "served"), r"--overwrite"
    )
    assert_usage_error(
        kerastricks("export", tmp_path / "model.keras", tmp_path / "other", "--outputs", "scor"),
        r"distinct outputs among .*Received: outputs=\['scor'\]",
    )


def test_export_error_paths(tmp_path):
    assert_usage_error(
        kerastricks("export", tmp_path / "missing.keras", tmp_path / "out"),
        r"CHECKPOINT must be an existing \.keras file",
    )
    broken = tmp_path / "broken.keras"
    broken.write_text("not a zip file")
    assert_usage_error(kerastricks("export", broken, tmp_path / "out"), r"cannot load .*broken")


# In-process: argparse's own errors and --help, the same code as the subprocess runs.


@pytest.mark.parametrize(
    "argv, pattern",
    [
        ([], r"^kerastricks: error: the following arguments are required: COMMAND"),
        (["frobnicate"], r"^kerastricks: error: argument COMMAND: invalid choice: 'frobnicate'"),
        (["run"], r"needs a recipe NAME"),
        (["list", "extra"], r"^kerastricks: error: unrecognized arguments: extra"),
        (["export", "only.keras"], r"^kerastricks export: error: .*required: OUT"),
        (["export", "a.keras", "b", "--outputs"], r"--outputs: expected at least one argument"),
    ],
)
def test_argparse_errors_are_one_line_with_exit_code_2(capsys, argv, pattern):
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and re.search(pattern, lines[0]), lines
    assert captured.out == ""


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["--help"], "usage: kerastricks"),
        (["list", "--help"], "usage: kerastricks list"),
        (["run", "--help"], "usage: kerastricks run"),
        (["export", "--help"], "usage: kerastricks export"),
        (["run", "transfer_learning", "--help"], "usage: kerastricks run transfer_learning"),
    ],
)
def test_help_everywhere(capsys, argv, expected):
    assert cli.main(argv) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith(expected) and captured.err == ""
