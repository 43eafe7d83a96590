"""kt.recipe_utils: the recipes' flags and their TensorBoard output, read back from the
event files with TensorBoard's own reader (`EventAccumulator`)."""

import argparse
import json

import keras
import numpy as np
import pytest
import tensorflow as tf
from matplotlib import pyplot as plt
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import kerastricks as kt


def events(folder):
    """`{tag: [(step, value as a NumPy array), ...]}` of the event files in `folder`."""
    reader = EventAccumulator(str(folder), size_guidance={"tensors": 0})
    reader.Reload()
    found = {}
    for tag in reader.Tags()["tensors"]:
        found[tag] = [
            (event.step, tf.make_ndarray(event.tensor_proto)) for event in reader.Tensors(tag)
        ]
    return found


def test_fit_writes_losses_sigmas_and_effective_learning_rates(tmp_path):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((3,))
    trunk = keras.layers.Dense(4, name="trunk")(inputs)
    model = kt.models.MultiTaskModel(
        inputs,
        {"a": keras.layers.Dense(1, name="a")(trunk), "b": keras.layers.Dense(1, name="b")(trunk)},
        weighting="uncertainty",
    )
    optimizer = kt.optimizers.LearningRateMultiplier(keras.optimizers.SGD(0.01), {"trunk": 0.5})
    model.compile(optimizer=optimizer, loss={"a": "mse", "b": "mse"})
    x = np.random.default_rng(0).normal(size=(8, 3)).astype("float32")
    y = {"a": x[:, :1], "b": x[:, 1:2]}
    callbacks = kt.recipe_utils.tensorboard_callbacks(tmp_path, "uncertainty")
    history = model.fit(x, y, epochs=2, batch_size=4, callbacks=callbacks, verbose=0)

    train = events(tmp_path / "uncertainty" / "train")
    for name in ("loss", "a_loss", "b_loss", "a_sigma", "b_sigma"):
        steps = [step for step, _ in train[f"epoch_{name}"]]
        values = [float(value) for _, value in train[f"epoch_{name}"]]
        assert steps == [0, 1], name
        # The event files hold what fit reported (float32 in both).
        np.testing.assert_allclose(values, history.history[name], rtol=1e-6, err_msg=name)

    rates = events(tmp_path / "uncertainty" / "learning_rates")
    # SGD(0.01) and a multiplier of 0.5 on the trunk: 0.005 for its kernel, 0.01 for a head.
    assert [float(v) for _, v in rates["learning_rate/trunk/kernel"]] == pytest.approx([5e-3] * 2)
    assert [float(v) for _, v in rates["learning_rate/a/kernel"]] == pytest.approx([1e-2] * 2)


def test_no_folder_no_callbacks():
    assert kt.recipe_utils.tensorboard_callbacks(None, "run") == []
    kt.recipe_utils.write_scalars(None, "run", {"accuracy": [(1, 0.5)]})  # a no-op


def test_doctor_findings_reach_tensorboard(tmp_path):
    # A network that cannot learn (a zero learning rate) gets a finding from the doctor.
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(1).normal(size=(64, 4)).astype("float32")
    y = np.random.default_rng(2).integers(0, 3, size=64)
    doctor = kt.callbacks.TrainingDoctor((x[:16], y[:16]), log_dir=tmp_path / "run", verbose=0)
    callbacks = [doctor, *kt.recipe_utils.tensorboard_callbacks(tmp_path, "run")]
    model.fit(x, y, epochs=3, batch_size=8, callbacks=callbacks, verbose=0)
    written = events(tmp_path / "run" / "doctor")
    codes = {finding.code for finding in doctor.findings}
    assert codes, "the doctor found nothing to report"
    assert {f"doctor/{code}" for code in codes} <= set(written)
    assert any(tag.startswith("doctor/") and tag.count("/") == 1 for tag in written)


def test_scalars_and_report_images(tmp_path):
    kt.recipe_utils.write_scalars(
        tmp_path / "board", "entropy_seed0", {"test_accuracy": [(20, 0.5), (40, 0.75)]}
    )
    curve = events(tmp_path / "board" / "entropy_seed0")["test_accuracy"]
    assert [(step, float(value)) for step, value in curve] == [(20, 0.5), (40, 0.75)]

    # A 6x4 PNG of known 8-bit colours; TensorBoard must hold the same pixels.
    pixels = np.random.default_rng(3).integers(0, 256, size=(4, 6, 3)).astype("uint8")
    plt.imsave(tmp_path / "picture.png", pixels)
    kt.recipe_utils.write_report(
        tmp_path, "Demo", {}, {"Results": "-"}, ["picture.png"], tensorboard=tmp_path / "board"
    )
    ((step, value),) = events(tmp_path / "board" / "report")["picture"]
    width, height, png = value
    assert (step, int(width), int(height)) == (0, 6, 4)
    decoded = tf.io.decode_png(png).numpy()
    # 8-bit values survive PNG -> float (v / 255) -> uint8 (floor(x * 255.5)) exactly.
    np.testing.assert_array_equal(decoded, pixels)


def test_quick_defaults_fill_only_untyped_flags_and_counts_are_checked(capsys):
    parser = kt.recipe_utils.add_recipe_arguments(
        argparse.ArgumentParser(prog="demo"), "demo", 10, quick={"epochs": 1, "seed": 4}
    )
    parse = kt.recipe_utils.parse_recipe_args
    assert (parse(parser, []).epochs, parse(parser, []).seed) == (10, 0)
    assert (parse(parser, ["--quick"]).epochs, parse(parser, ["--quick"]).seed) == (1, 4)
    typed = parse(parser, ["--seed", "9", "--quick", "--epochs", "0"])
    assert (typed.epochs, typed.seed, typed.quick) == (0, 9, True)
    with pytest.raises(SystemExit) as exit:
        parse(parser, ["--epochs", "-1"])
    assert exit.value.code == 2
    message = capsys.readouterr().err
    assert message.count("\n") == 1 and "argument --epochs: expected an integer >= 0" in message


def test_flag_checks_run_on_the_final_flags_and_fail_in_one_line(capsys):
    parser = kt.recipe_utils.add_recipe_arguments(
        argparse.ArgumentParser(prog="demo"), "demo", 10, quick={"epochs": 1}
    )
    seen = []

    def at_most_three_epochs(args):
        seen.append(args.epochs)
        return None if args.epochs <= 3 else f"too many epochs: {args.epochs}"

    kt.recipe_utils.add_flag_check(parser, at_most_three_epochs)
    # --quick's default (1) is in place when the check runs: it passes, once.
    assert kt.recipe_utils.parse_recipe_args(parser, ["--quick"]).epochs == 1 and seen == [1]
    with pytest.raises(SystemExit) as exit:
        kt.recipe_utils.parse_recipe_args(parser, ["--quick", "--epochs", "5"])
    assert exit.value.code == 2
    assert capsys.readouterr().err == "demo: error: too many epochs: 5 (see `demo --help`)\n"
    with pytest.raises(TypeError, match=r"`check` must be a callable.*Received: check=3"):
        kt.recipe_utils.add_flag_check(parser, 3)


def test_unmeasured_values_are_null_in_json_and_a_dash_in_tables(tmp_path):
    scores = [np.float32(np.inf), np.float64(-np.inf), 0.25]
    metrics = {"nan": float("nan"), "scores": scores, "none": None, "count": 3, "flag": True,
               "nested": {"x": np.float32(np.nan)}}  # fmt: skip
    kt.recipe_utils.write_report(tmp_path, "Demo", metrics, {"Results": "-"})

    def not_json(constant):  # json.loads would accept NaN and Infinity otherwise
        raise ValueError(f"{constant} is not JSON")

    written = json.loads((tmp_path / "metrics.json").read_text(), parse_constant=not_json)
    assert written == {"nan": None, "scores": [None, None, 0.25], "none": None, "count": 3,
                       "flag": True, "nested": {"x": None}}  # fmt: skip
    table = kt.recipe_utils.markdown_table(["model", "abs_rel"], [["mean", None], ["net", 0.5]])
    assert table.splitlines()[2:] == ["| mean | – |", "| net | 0.5 |"]
