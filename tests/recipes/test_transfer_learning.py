"""Smoke test of recipes/transfer_learning.py in --quick mode, also under MirroredStrategy."""

import json
import re

import numpy as np
import pytest

import kerastricks as kt
from tests.helpers import check_recipe_exports, load_recipe


# On one device this recipe runs in the own-photos test below; the synthetic quick run runs
# here on two replicas only (the stronger check), which keeps CI short.
def test_quick_run_writes_report(tmp_path):
    recipe = load_recipe("transfer_learning")
    metrics = recipe.main(["--quick", "--output", str(tmp_path), "--distribute", "mirrored"])
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


def write_photo_folder(root):
    """Three classes of 4-5 photos as real folders hold them: JPEG and PNG, several sizes,
    a greyscale and an RGBA file among colour ones, and a stray non-image file."""
    from PIL import Image

    rng = np.random.default_rng(0)
    colours = {"apples": (200, 30, 30), "leaves": (30, 180, 40), "sky": (40, 90, 220)}
    for index, (name, colour) in enumerate(colours.items()):
        folder = root / name
        folder.mkdir(parents=True)
        for i in range(4 + index % 2):
            size = (40 + 7 * i, 30 + 5 * index)
            noise = rng.integers(-30, 30, size=(size[1], size[0], 3))
            pixels = np.clip(np.array(colour) + noise, 0, 255).astype("uint8")
            image = Image.fromarray(pixels)
            if i == 1:
                image = image.convert("L")  # greyscale among colour
            if i == 2:
                image = image.convert("RGBA")
            suffix = ".jpg" if i % 2 == 0 and image.mode != "RGBA" else ".png"
            image.save(folder / f"{name}_{i}{suffix}")
    (root / "apples" / "notes.txt").write_text("not an image, ignored as Keras ignores it")
    return list(colours)


def test_own_photos_train_with_a_keras_applications_backbone(tmp_path):
    classes = write_photo_folder(tmp_path / "photos")
    recipe = load_recipe("transfer_learning")
    output = tmp_path / "out"
    argv = ["--quick", "--data", str(tmp_path / "photos"), "--output", str(output)]
    argv += ["--backbone", "MobileNetV3Small", "--weights", "none", "--image-size", "32"]
    metrics = recipe.main([*argv, "--epochs", "3", "--no-jit", "--distribute", "default"])
    for name in ("report.md", "metrics.json", "confusion_matrix.png", "model.keras"):
        assert (output / name).exists(), name
    # A quarter of each class held out, at least one: 1 + 1 + 1 of 4, 5, 4 photos.
    assert (metrics["train_images"], metrics["test_images"]) == (10, 3)
    assert metrics["classes"] == sorted(classes)
    confusion = np.array(metrics["confusion_matrix"])
    assert confusion.shape == (3, 3) and confusion.sum(axis=1).tolist() == [1, 1, 1]
    # Per-class accuracy is the diagonal over the row sums; overall, the trace over the sum.
    for i, name in enumerate(metrics["classes"]):
        assert metrics["per_class_accuracy"][name] == confusion[i, i] / confusion[i].sum()
    assert metrics["accuracy"] == np.trace(confusion) / confusion.sum()
    # 3 epochs: the head from epoch 0, then two of the backbone's blocks unfrozen.
    assert metrics["blocks"] > 2 and metrics["layers_unfrozen"] > 0
    assert "| class | held-out images | accuracy |" in (output / "report.md").read_text()
    x = np.zeros((2, 32, 32, 3), "float32")
    loaded = check_recipe_exports(output, x)
    assert loaded.output_shape == (None, 3)


@pytest.mark.parametrize(
    "layout, pattern",
    [
        ("missing", r"argument --data: The data folder does not exist"),
        ("one class", r"at least two class subfolders"),
        ("loose image", r"one subfolder per class.*Received: file='.*loose\.png'"),
        ("empty class", r"holds no image.*Received: folder='.*empty'"),
        ("single image", r"class 'b' needs at least 2 images"),
    ],
)
def test_bad_photo_folders_are_one_line_errors(tmp_path, capsys, layout, pattern):
    from PIL import Image

    root = tmp_path / "photos"
    if layout != "missing":
        for name in ("a/1.png", "a/2.png", "b/1.png", "b/2.png"):
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            Image.new("RGB", (8, 8)).save(root / name)
    if layout == "one class":
        for name in ("b/1.png", "b/2.png"):
            (root / name).unlink()
        (root / "b").rmdir()
    if layout == "loose image":
        Image.new("RGB", (8, 8)).save(root / "loose.png")
    if layout == "empty class":
        (root / "empty").mkdir()
    if layout == "single image":
        (root / "b" / "2.png").unlink()
    recipe = load_recipe("transfer_learning")
    with pytest.raises(SystemExit) as exit:
        recipe.main(["--data", str(root), "--output", str(tmp_path / "out")])
    assert exit.value.code == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and re.search(pattern, lines[0]), lines


def test_broken_image_is_named(tmp_path):
    from PIL import Image

    for name in ("a/1.png", "b/1.png"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        Image.new("RGB", (8, 8)).save(tmp_path / name)
    (tmp_path / "b" / "2.jpg").write_bytes(b"not a jpeg")
    with pytest.raises(ValueError, match=r"Cannot read this image.*Received: file='.*2\.jpg'"):
        kt.datasets.image_folder(tmp_path, (8, 8))
    # Pixels: a greyscale file becomes three equal channels, resized as asked.
    Image.new("L", (6, 4), color=77).save(tmp_path / "a" / "2.png")
    (tmp_path / "b" / "2.jpg").unlink()
    x, y, names = kt.datasets.image_folder(tmp_path, (3, 5))
    assert x.shape == (3, 3, 5, 3) and y.tolist() == [0, 0, 1] and names == ["a", "b"]
    np.testing.assert_array_equal(x[1], np.full((3, 5, 3), 77.0))


def test_every_keras_applications_backbone_is_offered_with_its_preprocessing():
    import keras

    recipe = load_recipe("transfer_learning")
    constructors = sorted(n for n in dir(keras.applications) if n[0].isupper())
    assert sorted(recipe.BACKBONES) == constructors
    for name in constructors:
        module = getattr(keras.applications, recipe.preprocessing_module(name))
        assert callable(module.preprocess_input), name
