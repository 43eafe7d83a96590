"""Smoke test of recipes/multitask.py in --quick mode, also under MirroredStrategy."""

import json

import numpy as np
import pytest

from tests.helpers import check_recipe_exports, load_recipe


@pytest.mark.parametrize("distribute", ["default", "mirrored"])
def test_quick_run_writes_report(tmp_path, distribute):
    recipe = load_recipe("multitask")
    metrics = recipe.main(["--quick", "--output", str(tmp_path), "--distribute", distribute])
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
    loaded = check_recipe_exports(tmp_path, recipe.make_data(4, 32, seed=7)[0])
    assert sorted(loaded.output) == ["depth", "instance", "segmentation"]
