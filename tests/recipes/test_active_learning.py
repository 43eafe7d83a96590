"""Smoke test of recipes/active_learning.py in --quick mode, also under MirroredStrategy."""

import json

import numpy as np
import pytest

import kerastricks as kt
from tests.helpers import check_recipe_exports, load_recipe


@pytest.mark.parametrize("distribute", [None, "mirrored"])
def test_quick_run_writes_report(tmp_path, distribute):
    argv = ["--quick", "--output", str(tmp_path)]
    metrics = load_recipe("active_learning").main(
        argv + (["--distribute", distribute] if distribute else [])
    )
    for name in ("report.md", "metrics.json", "learning_curves.png", "model.keras"):
        assert (tmp_path / name).exists(), name
    # The shipped classifier: .keras (safe_mode) and SavedModel give the same probabilities.
    loaded = check_recipe_exports(tmp_path, kt.datasets.load_digits()[0][:6])
    assert loaded.output_shape == (None, 10)
    assert json.loads((tmp_path / "metrics.json").read_text()) == json.loads(json.dumps(metrics))
    strategies = [
        "random",
        "entropy",
        "margin",
        "variation_ratio_ensemble",
        "bald_mc_dropout",
        "ceal",
    ]
    assert list(metrics["curves"]) == strategies
    for name in strategies:
        curve = metrics["curves"][name]
        assert curve["labels"] == [20, 40]  # seed set 20, one query of 20, budget 40
        # Ten classes: accuracies are fractions of the 597 test images, never NaN.
        assert all(0.0 <= value <= 1.0 for value in curve["mean"])
        assert np.all(np.isfinite(curve["std"]))
        # Every label bought is stored once in the strategy's state directory.
        batches = sorted((tmp_path / "state" / f"{name}_seed0" / "labels").glob("*.npz"))
        indices = np.concatenate([np.load(b, allow_pickle=False)["indices"] for b in batches])
        assert len(indices) == len(set(indices.tolist())) == 40
    assert len(metrics["curves"]["ceal"]["pseudo_labels_mean"]) == 2
    assert "member_mean" in metrics["curves"]["variation_ratio_ensemble"]
    assert 0.0 < metrics["full_data_accuracy"] <= 1.0
    assert metrics["target_accuracy"] == pytest.approx(0.95 * metrics["full_data_accuracy"])
    assert "| strategy | labels to" in (tmp_path / "report.md").read_text()
