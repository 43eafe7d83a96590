"""Smoke test of recipes/surrogate_targets.py in --quick mode.

On one device only: its models are plain `compile`/`fit` models with `TrainingDoctor`,
and what two replicas could break there is checked where it is stronger, against one
device (the doctor's row of the composition matrix, tests/callbacks/test_training_doctor.py);
a second quick run under MirroredStrategy cost CI about 50 s and could only find a crash.
"""

import json

import numpy as np

import kerastricks as kt
from tests.helpers import check_recipe_exports, load_recipe


def test_quick_run_writes_report(tmp_path):
    metrics = load_recipe("surrogate_targets").main(
        ["--quick", "--output", str(tmp_path), "--distribute", "default"]
    )
    for name in ("report.md", "metrics.json", "learning_curves.png", "model.keras"):
        assert (tmp_path / name).exists(), name
    # The shipped pose model from its files: .keras (safe_mode) and SavedModel agree.
    images = kt.datasets.pose_parts(4, 24, num_distractors=4, grid=6, seed=9)["images"]
    loaded = check_recipe_exports(tmp_path, images)
    assert sorted(loaded.output_names) == ["part_map", "pose"]
    assert json.loads((tmp_path / "metrics.json").read_text()) == json.loads(json.dumps(metrics))
    assert len(metrics["sets"]) == 2 and set(metrics["pose"]) == {"0", "1"}
    for result in metrics["sets"].values():
        # Binary targets: accuracies are fractions; NaN or outside [0, 1] is a bug.
        assert 0.0 <= result["target_accuracy"] <= 1.0
        assert 0.0 <= result["sign_accuracy"] <= 1.0
    for result in metrics["pose"].values():
        assert np.isfinite(result["pose_r2"]) and result["pose_rmse_pixels"] > 0
        assert 0.0 <= result["part_detection"] <= 1.0
    assert "| detection weight |" in (tmp_path / "report.md").read_text()
