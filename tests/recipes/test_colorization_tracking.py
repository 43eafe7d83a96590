"""Smoke test of recipes/colorization_tracking.py in --quick mode, also under MirroredStrategy."""

import json
import math
import re

import numpy as np
import pytest

from tests.helpers import check_recipe_exports, load_recipe, one_line_usage_error


# On one device this recipe runs in the DAVIS test below and in .ci/wheel (`kerastricks run
# colorization_tracking --quick`); the synthetic quick run runs here on two replicas only
# (the stronger check), which keeps CI short.
def test_quick_run_writes_report_model_and_sane_numbers(tmp_path):
    recipe = load_recipe("colorization_tracking")
    metrics = recipe.main(["--quick", "--output", str(tmp_path), "--distribute", "mirrored"])
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


def write_davis(root, frames=4, size=(48, 64)):
    """A tiny DAVIS 2017 folder: 2 train and 1 val videos of coloured squares moving
    right over a grey background, palette annotations with one index per square."""
    from PIL import Image

    palette = [0, 0, 0, 128, 0, 0, 0, 128, 0] + [0] * (768 - 9)  # DAVIS's first colours
    (root / "ImageSets" / "2017").mkdir(parents=True)
    videos = {"train": ["bears", "cars"], "val": ["dogs"]}
    for split, names in videos.items():
        (root / "ImageSets" / "2017" / f"{split}.txt").write_text("\n".join(names) + "\n")
        for v, name in enumerate(names):
            for folder in ("JPEGImages", "Annotations"):
                (root / folder / "480p" / name).mkdir(parents=True)
            for t in range(frames):
                pixels = np.full((*size, 3), 120, "uint8")
                labels = np.zeros(size, "uint8")
                for k, (top, colour) in enumerate(((6, (220, 40, 40)), (28, (40, 60, 220))), 1):
                    left = 4 + 5 * t + 3 * v
                    pixels[top : top + 12, left : left + 12] = colour
                    labels[top : top + 12, left : left + 12] = k
                Image.fromarray(pixels).save(root / "JPEGImages" / "480p" / name / f"{t:05d}.jpg")
                annotation = Image.fromarray(labels, mode="P")
                annotation.putpalette(palette)
                annotation.save(root / "Annotations" / "480p" / name / f"{t:05d}.png")
    return videos, palette


def reference_j_and_f(truth, predicted, k):
    """DAVIS's J and F of object k over frames 1..T-1, recomputed here in NumPy: IoU (1 if
    both empty); boundary pixels differing from their right/lower/lower-right neighbour,
    matched within ceil(0.008 * diagonal) pixels (a disk), F = 2PR / (P + R)."""
    from scipy.ndimage import binary_dilation

    ious, fs = [], []
    for a, b in zip(truth[1:] == k, predicted[1:] == k):
        union = (a | b).sum()
        ious.append((a & b).sum() / union if union else 1.0)

        def edge(m):
            e = np.zeros_like(m)
            e[:, :-1] |= m[:, :-1] != m[:, 1:]
            e[:-1, :] |= m[:-1, :] != m[1:, :]
            e[:-1, :-1] |= m[:-1, :-1] != m[1:, 1:]
            return e

        ea, eb = edge(a), edge(b)
        if not ea.any() or not eb.any():
            fs.append(1.0 if ea.any() == eb.any() else 0.0)
            continue
        r = math.ceil(0.008 * math.hypot(*a.shape))
        yy, xx = np.mgrid[-r : r + 1, -r : r + 1]
        disk = yy**2 + xx**2 <= r**2
        precision = (eb & binary_dilation(ea, disk)).sum() / eb.sum()
        recall = (ea & binary_dilation(eb, disk)).sum() / ea.sum()
        fs.append(0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall))
    return float(np.mean(ious)), float(np.mean(fs))


def test_davis_folder_trains_tracks_writes_palette_pngs_and_scores(tmp_path):
    from PIL import Image

    videos, palette = write_davis(tmp_path / "davis")
    output = tmp_path / "out"
    argv = ["--quick", "--data", str(tmp_path / "davis"), "--output", str(output)]
    argv += ["--image-size", "24", "32", "--no-jit", "--distribute", "default"]
    metrics = load_recipe("colorization_tracking").main(argv)
    for name in ("report.md", "metrics.json", "model.keras"):
        assert (output / name).is_file(), name
    assert json.loads((output / "metrics.json").read_text()) == json.loads(json.dumps(metrics))
    assert metrics["train_videos"] == videos["train"] and list(metrics["videos"]) == ["dogs"]
    truth = np.stack(
        [
            np.asarray(Image.open(tmp_path / f"davis/Annotations/480p/dogs/{t:05d}.png"))
            for t in range(4)
        ]
    )
    written = sorted((output / "results" / "dogs").iterdir())
    assert [p.name for p in written] == [f"{t:05d}.png" for t in range(4)]
    predicted = []
    for path in written:
        with Image.open(path) as image:
            assert image.mode == "P" and image.size == (64, 48)  # the JPEGs' size
            assert image.getpalette()[:9] == palette[:9]
            predicted.append(np.asarray(image))
    predicted = np.stack(predicted)
    np.testing.assert_array_equal(predicted[0], truth[0])  # frame 0: the given masks
    # The report's numbers are DAVIS's, recomputed here from the PNGs it wrote.
    j, f = zip(*(reference_j_and_f(truth, predicted, k) for k in (1, 2)))
    scores = metrics["videos"]["dogs"]
    assert scores["objects"] == 2
    assert scores["J"] == pytest.approx(np.mean(j)) and scores["F"] == pytest.approx(np.mean(f))
    assert scores["J&F"] == pytest.approx((np.mean(j) + np.mean(f)) / 2)
    assert metrics["overall"]["J&F"] == pytest.approx(scores["J&F"])  # one video
    # Copying frame 0's squares, which move 5 px a frame, is a known baseline: IoU of two
    # 12x12 squares offset by 5t px is (12 - 5t) * 12 / (288 - (12 - 5t) * 12).
    ious = [max(0, 12 - 5 * t) * 12 / (288 - max(0, 12 - 5 * t) * 12) for t in (1, 2, 3)]
    assert metrics["copy_first_mask"]["J"] == pytest.approx(np.mean(ious))
    assert "| dogs | 2 |" in (output / "report.md").read_text()


@pytest.mark.parametrize(
    "breakage, pattern",
    [
        (
            "no image sets",
            r"argument --data: DAVIS 2017 lists its train videos.*Received: missing='.*train\.txt'",
        ),
        ("rgb annotation", r"palette PNGs \(mode P\).*mode RGB.*Received: file='.*00002\.png'"),
        ("missing frame", r"without gaps\. Received: missing='.*dogs/00001\.jpg'"),
        ("missing annotation", r"needs its annotation.*Received: missing='.*dogs/00003\.png'"),
        ("unknown video", r"no frame folder.*Received: missing='.*480p/cats'"),
    ],
)
def test_bad_davis_layouts_are_one_line_errors(tmp_path, capsys, breakage, pattern):
    from PIL import Image

    root = tmp_path / "davis"
    write_davis(root, frames=4, size=(8, 8))
    if breakage == "no image sets":
        (root / "ImageSets" / "2017" / "train.txt").unlink()
    if breakage == "rgb annotation":
        Image.new("RGB", (8, 8)).save(root / "Annotations/480p/dogs/00002.png")
    if breakage == "missing frame":
        (root / "JPEGImages/480p/dogs/00001.jpg").unlink()
    if breakage == "missing annotation":
        (root / "Annotations/480p/dogs/00003.png").unlink()
    if breakage == "unknown video":
        (root / "ImageSets/2017/val.txt").write_text("dogs\ncats\n")
    line = one_line_usage_error(
        capsys, load_recipe("colorization_tracking").main, ["--data", str(root)]
    )
    assert re.search(pattern, line), line
