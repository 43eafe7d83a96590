"""Smoke test of recipes/colorization_tracking.py in --quick mode, also under MirroredStrategy."""

import json
import math

import numpy as np
import pytest

from tests.helpers import check_recipe_exports, load_recipe


@pytest.mark.parametrize("distribute", ["default", "mirrored"])
def test_quick_run_writes_report_model_and_sane_numbers(tmp_path, distribute):
    recipe = load_recipe("colorization_tracking")
    metrics = recipe.main(["--quick", "--output", str(tmp_path), "--distribute", distribute])
    for name in ("metrics.json", "report.md", "tracking_strip.png", "model.keras"):
        assert (tmp_path / name).is_file(), name
    assert json.loads((tmp_path / "metrics.json").read_text()) == json.loads(json.dumps(metrics))
    assert set(metrics["j_mean"]) >= {
        "copy the first mask",
        "raw pixels, grey (L)",
        "raw pixels, color (Lab)",
        "learned embeddings (grey)",
    }
    for value in list(metrics["j_mean"].values()) + list(metrics["val_j_mean"].values()):
        assert 0.0 <= value <= 1.0
    assert math.isfinite(metrics["train_loss"]) and metrics["train_loss"] > 0
    assert "| learned embeddings (grey) |" in (tmp_path / "report.md").read_text()
    # The shipped colorizer from its files: .keras (safe_mode) and SavedModel agree on
    # random grey frames and reference colours of the recipe's shapes.
    rng = np.random.default_rng(0)
    size, small = recipe.SIZE, recipe.SIZE // recipe.STRIDE
    sample = [
        rng.random((2, size, size, 1), dtype="float32"),
        rng.random((2, recipe.REFERENCES, size, size, 1), dtype="float32"),
        rng.random((2, recipe.REFERENCES, small, small, 3), dtype="float32"),
    ]
    loaded = check_recipe_exports(tmp_path, sample)
    assert loaded.get_layer("embedder").output_shape[-1] == recipe.DEPTH
