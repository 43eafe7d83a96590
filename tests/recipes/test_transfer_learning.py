"""Smoke test of recipes/transfer_learning.py in --quick mode, also under MirroredStrategy."""

import json

import numpy as np
import pytest

import kerastricks as kt
from tests.helpers import check_recipe_exports, load_recipe


@pytest.mark.parametrize("distribute", ["default", "mirrored"])
def test_quick_run_writes_report(tmp_path, distribute):
    recipe = load_recipe("transfer_learning")
    metrics = recipe.main(["--quick", "--output", str(tmp_path), "--distribute", distribute])
    for name in ("report.md", "metrics.json", "accuracy_vs_depth.png", "model.keras"):
        assert (tmp_path / name).exists(), name
    # The shipped classifier from its files: .keras (safe_mode) and SavedModel agree.
    loaded = check_recipe_exports(tmp_path, kt.datasets.load_digits(size=16)[0][:6])
    assert loaded.output_shape == (None, 5)
    assert json.loads((tmp_path / "metrics.json").read_text()) == json.loads(json.dumps(metrics))
    modes = {(row["n"], row["mode"]) for row in metrics["results"]}
    assert modes == {(0, "scratch"), (2, "frozen"), (2, "fine-tuned")}
    for row in metrics["results"]:
        # Five classes: chance is 0.2; anything outside [0, 1] or NaN is a bug.
        assert 0.0 <= row["accuracy"] <= 1.0 and np.isfinite(row["std"])
    assert "| labels per class |" in (tmp_path / "report.md").read_text()
