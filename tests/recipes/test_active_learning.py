"""Smoke test of recipes/active_learning.py in --quick mode, also under MirroredStrategy."""

import io
import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest

import kerastricks as kt
from tests.helpers import check_recipe_exports, load_recipe, one_line_usage_error


# On one device this recipe runs in the class-folder test below; the synthetic quick run
# runs here on two replicas only (the stronger check), which keeps CI short.
def test_quick_run_writes_report(tmp_path):
    argv = ["--quick", "--output", str(tmp_path)]
    metrics = load_recipe("active_learning").main(argv + ["--distribute", "mirrored"])
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


def write_class_folders(root, per_class=8, size=12):
    """Three classes of small images (PNG and JPEG): a bright square on a dark ground, in a
    corner that depends on the class."""
    from PIL import Image

    rng = np.random.default_rng(0)
    names = ["circle", "square", "triangle"]
    for label, name in enumerate(names):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 40, (size, size, 3)).astype("uint8")
            top, left = (label % 2) * size // 2, (label // 2) * size // 2
            pixels[top : top + size // 2, left : left + size // 2] = 230
            Image.fromarray(pixels).save(root / name / f"{i}.{'png' if i % 2 else 'jpg'}")
    return names


def stored_labels(state_dir):
    """The state's batches in the order they were bought: (indices, labels)."""
    batches = sorted((state_dir / "labels").glob("*.npz"))
    arrays = [np.load(b, allow_pickle=False) for b in batches]
    return (
        np.concatenate([a["indices"] for a in arrays]),
        np.concatenate([a["labels"] for a in arrays]),
    )


SMALL = ["--image-size", "12", "--initial", "4", "--query-size", "2", "--budget", "8"]
SMALL += ["--min-epoch-size", "16", "--distribute", "default"]


def test_class_folders_with_the_simulated_oracle(tmp_path):
    names = write_class_folders(tmp_path / "images")
    output = tmp_path / "out"
    argv = ["--quick", "--data", str(tmp_path / "images"), "--output", str(output), *SMALL]
    metrics = load_recipe("active_learning").main([*argv, "--strategies", "random,entropy"])
    for name in ("report.md", "metrics.json", "learning_curves.png", "model.keras", "pool.txt"):
        assert (output / name).exists(), name
    # 24 images: a quarter (6) is the test set, the other 18 the pool.
    assert metrics["classes"] == names and (metrics["pool_size"], metrics["test_size"]) == (18, 6)
    pool = (output / "pool.txt").read_text().split()
    assert len(pool) == 18
    for strategy in ("random", "entropy"):
        assert metrics["curves"][strategy]["labels"] == [4, 6, 8]
        # The simulated oracle answered with each queried file's folder name.
        indices, labels = stored_labels(output / "state" / f"{strategy}_seed0")
        assert len(set(indices.tolist())) == 8
        folders = [names.index(Path(pool[i]).parent.name) for i in indices]
        assert labels.tolist() == folders
    loaded = check_recipe_exports(output, np.zeros((2, 12, 12, 3), "float32"))
    assert loaded.output_shape == (None, 3)


def test_prompt_oracle_asks_in_the_terminal_and_its_answers_are_stored(
    tmp_path, monkeypatch, capsys
):
    names = write_class_folders(tmp_path / "images", per_class=4)
    output = tmp_path / "out"
    # Eight answers for a budget of 8 (4 initial + 2 + 2), with bad ones re-asked: an
    # unknown name, a number out of range and an empty line are not labels.
    answers = ["banana", "circle", "2", "9", "square", "", "1", "0", "triangle", "circle", "square"]
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n".join(answers) + "\n"))
    argv = ["--quick", "--data", str(tmp_path / "images"), "--output", str(output), *SMALL]
    argv += ["--oracle", "prompt", "--strategies", "margin"]
    metrics = load_recipe("active_learning").main(argv)
    assert metrics["oracle"] == "prompt" and metrics["classes"] == names
    assert metrics["curves"]["margin"]["labels"] == [4, 6, 8]
    indices, labels = stored_labels(output / "state" / "margin_seed0")
    # The valid answers, in the order asked: names are their positions in sorted order.
    assert labels.tolist() == [0, 2, 1, 1, 0, 2, 0, 1]
    shown = capsys.readouterr().out
    pool = (output / "pool.txt").read_text().split()
    for i in indices:  # every queried file was shown, one at a time
        assert pool[i] in shown
    assert shown.count("unknown label") == 3 and "[1/4] " in shown and "[2/2] " in shown


def test_prompt_oracle_needs_one_strategy_and_bad_folders_are_one_line_errors(tmp_path, capsys):
    write_class_folders(tmp_path / "images", per_class=2)
    recipe = load_recipe("active_learning")
    for argv, pattern in (
        (["--data", str(tmp_path / "images"), "--oracle", "prompt"], r"one of --strategies"),
        (["--data", str(tmp_path / "nothing")], r"argument --data: The data folder does not"),
    ):
        line = one_line_usage_error(capsys, recipe.main, [*argv, "--output", str(tmp_path)])
        assert re.search(pattern, line), line


def test_prompt_answers_typed_before_a_crash_are_taught_back(tmp_path):
    recipe = load_recipe("active_learning")
    x = np.zeros((6, 2), "float32")
    paths = [f"img_{i}.png" for i in range(6)]
    journal = tmp_path / "state" / "prompt_answers.jsonl"

    def learner():
        return kt.active.ActiveLearner(
            lambda: None,
            x,
            oracle,
            tmp_path / "state",
            "random",
            kt.active.LabelPlan(query_size=3, budget=6),
        )

    oracle = kt.active.prompt_oracle(paths, ["a", "b"], input=lambda prompt: "b", journal=journal)
    oracle([4, 1])  # two answers typed and journaled...
    (tmp_path / "state").mkdir(exist_ok=True)
    # ...then the process died during that call (index 5 was not answered): on restart
    # the learner finds the call in flight and counts its indices as lost.
    (tmp_path / "state" / "pending.json").write_text("[4, 1, 5]")
    restarted = learner()
    assert restarted.lost_indices.tolist() == [1, 4, 5]
    assert recipe.recover_answers(restarted, oracle) == [1, 4]
    assert restarted.lost_indices.tolist() == [5]  # never answered: still lost
    assert restarted.labeled_indices.tolist() == [1, 4]
    restarted.close()
