"""Smoke test of recipes/multitask.py in --quick mode, under MirroredStrategy.

One run, on two replicas and in mixed precision (the stronger check: the only run of DWA
weighting there, and the only recipe that trains and ships a `mixed_float16` model; the
recipe's U-Net on one device in float32 is a row of the composition matrix, every cell
against one device), with its TensorBoard files read back.
"""

import json

import numpy as np
import pytest

from tests.helpers import check_recipe_exports, load_recipe
from tests.test_recipe_utils import events


def check_tensorboard(board, metrics):
    """Each configuration's losses (and, for the learned weighting, its sigmas and the
    log-variances' effective learning rate) per epoch, and the report's picture."""
    label = "3 task uncertainty weighting"
    train = events(board / label / "train")
    sigmas = metrics["histories"][label]["depth_sigma"]
    # The event file holds the sigma the history holds (both float32 of the same value).
    assert [float(v) for _, v in train["epoch_depth_sigma"]] == pytest.approx(sigmas)
    for task in ("segmentation", "instance", "depth"):
        assert len(train[f"epoch_{task}_loss"]) == 1 and f"epoch_{task}_sigma" in train
    rates = events(board / label / "learning_rates")
    log_variance = [tag for tag in rates if "uncertainty_weighting" in tag]
    other = [tag for tag in rates if "uncertainty_weighting" not in tag]
    assert log_variance and other
    # The recipe's default multiplier: the log-variances learn 20x faster than the rest.
    # Written after the one quick epoch (128 scenes, global batches of 2 x 32: 2 steps),
    # where the recipe's CosineDecay(3e-3, decay_steps=2) has reached 0 for every variable.
    last = {tag: float(series[-1][1]) for tag, series in rates.items()}
    assert all(value == pytest.approx(0.0, abs=1e-12) for value in last.values()), last
    assert "epoch_loss" in events(board / "Unweighted sum of losses" / "train")
    ((step, picture),) = events(board / "report")["sigmas"]
    assert step == 0 and picture[2][:8] == b"\x89PNG\r\n\x1a\n"  # a PNG in the summary


def test_quick_run_writes_report(tmp_path):
    recipe = load_recipe("multitask")
    # --mixed-precision: the shipped SavedModel is checked against the float16 model
    # (kt.export.check_saved_model's float16 tolerance; with float32's 1e-6 this run
    # failed at export on a CPU with native float16, by one float16 step).
    argv = ["--quick", "--output", str(tmp_path), "--distribute", "mirrored", "--mixed-precision"]
    metrics = recipe.main(argv + ["--tensorboard", str(tmp_path / "board")])
    check_tensorboard(tmp_path / "board", metrics)
    for name in ("report.md", "metrics.json", "sigmas.png", "model.keras"):
        assert (tmp_path / name).exists(), name
    assert json.loads((tmp_path / "metrics.json").read_text()) == json.loads(json.dumps(metrics))
    labels = [row["Loss"] for row in metrics["results"]]
    assert labels == [
        "Segmentation only",
        "Unweighted sum of losses",
        "3 task uncertainty weighting",
        "3 task DWA (Liu et al. 2019)",
    ]
    for row in metrics["results"]:
        assert row["IoU [%]"] == "-" or 0.0 <= row["IoU [%]"] <= 100.0
        for key in ("Instance error [px]", "Inv. depth error [1/m]"):
            assert row[key] == "-" or (np.isfinite(row[key]) and row[key] >= 0.0)
    sigmas = metrics["histories"]["3 task uncertainty weighting"]["depth_sigma"]
    assert len(sigmas) == 1 and np.isfinite(sigmas[0]) and sigmas[0] > 0
    report = (tmp_path / "report.md").read_text()
    assert "| Loss | Seg. | Inst. | Depth | IoU [%] |" in report
    # The shipped model from its files: .keras (safe_mode) and SavedModel serve the same
    # three heads (the task uncertainties are training-only and not served).
    # In float16 the served graph may round differently from the eager model: two float16
    # steps at magnitude 1 (2 * 2**-10) for both tolerances (seen: 2**-11 at -0.39).
    sample = recipe.make_data(4, 32, seed=7)[0]
    loaded = check_recipe_exports(tmp_path, sample, atol=2.0**-9, rtol=2.0**-9)
    assert sorted(loaded.output) == ["depth", "instance", "segmentation"]
