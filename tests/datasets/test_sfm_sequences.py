"""kt.datasets.sfm_sequences / check_sfm_sequences and the depth test set readers."""

import numpy as np
import pytest
from PIL import Image

import kerastricks as kt
from tests.helpers import write_sfm_sequences

COLOURS = [(200, 40, 40), (40, 200, 40), (40, 40, 200)]  # frames t-1, t, t+1


def write_flat_window(root, folder, frame, size, camera):
    """One window of three flat-coloured frames (JPEG at 4:4:4, quality 100, frames a
    multiple of 8 px wide so that no 8x8 block straddles two frames)."""
    height, width = size
    strip = np.concatenate([np.full((height, width, 3), c, np.uint8) for c in COLOURS], 1)
    (root / folder).mkdir(parents=True, exist_ok=True)
    Image.fromarray(strip).save(root / folder / f"{frame}.jpg", quality=100, subsampling=0)
    (root / folder / f"{frame}_cam.txt").write_text(camera)


def test_frames_are_cut_in_order_and_intrinsics_scaled_in_closed_form(tmp_path):
    write_flat_window(tmp_path, "seq", "0000000007", (16, 24), "30.,0.,11.5,0.,25.,7.5,0.,0.,1.")
    (tmp_path / "train.txt").write_text("seq 0000000007\n")
    data = kt.datasets.sfm_sequences(tmp_path, "train", image_size=(12, 36))
    assert data["images"].shape == (1, 3, 12, 36, 3)
    assert data["folder"].tolist() == ["seq"] and data["frame"].tolist() == ["0000000007"]
    # Flat frames stay flat when resized; JPEG at quality 100, 4:4:4, keeps a flat 8x8
    # block within a level or two of 255 (measured: exact), so atol = 2/255.
    for k, colour in enumerate(COLOURS):
        np.testing.assert_allclose(
            data["images"][0, k], np.broadcast_to(colour, (12, 36, 3)) / 255, atol=2 / 255
        )
    # Closed form: sx = 36 / 24, sy = 12 / 16; pixel centres stay aligned, so
    # fx' = sx fx, cx' = (cx + 0.5) sx - 0.5, likewise for y.
    sx, sy = 36 / 24, 12 / 16
    expected = [
        [30 * sx, 0, (11.5 + 0.5) * sx - 0.5],
        [0, 25 * sy, (7.5 + 0.5) * sy - 0.5],
        [0, 0, 1],
    ]
    np.testing.assert_allclose(data["intrinsics"][0], expected, rtol=1e-6)
    # No val.txt: an empty val split.
    assert kt.datasets.check_sfm_sequences(tmp_path)["val"] == []
    assert kt.datasets.sfm_sequences(tmp_path, "val", (12, 36))["images"].shape == (0, 3, 12, 36, 3)


def test_splits_and_a_random_subset_follow_the_lists(tmp_path):
    listed = write_sfm_sequences(tmp_path, windows=4)
    assert kt.datasets.check_sfm_sequences(tmp_path) == listed
    val = kt.datasets.sfm_sequences(tmp_path, "val", (8, 24))
    assert list(zip(val["folder"], val["frame"])) == listed["val"]
    # The fixture's cameras: fx = 20 + folder index, unchanged at the original size.
    assert val["intrinsics"][:, 0, 0].tolist() == [20.0, 21.0]
    subset = kt.datasets.sfm_sequences(tmp_path, "train", (8, 24), max_windows=4, seed=1)
    pairs = list(zip(subset["folder"], subset["frame"]))
    assert len(pairs) == 4 and set(pairs) <= set(listed["train"])
    assert pairs == [p for p in listed["train"] if p in pairs]  # kept in list order


@pytest.mark.parametrize(
    "breakage, pattern",
    [
        ("no train list", r"listed in train\.txt.*missing='.*train\.txt'"),
        ("three words", r"two words.*line='.*val\.txt:2: drive_b 0000000003 extra'"),
        ("no camera", r"no camera file.*missing='.*drive_a/0000000002_cam\.txt'"),
        ("eight numbers", r"9 intrinsics.*file='.*drive_b/0000000001_cam\.txt'"),
        ("odd width", r"multiple of 3.*file='.*drive_a/0000000001\.jpg'"),
    ],
)
def test_a_broken_layout_names_its_first_bad_file(tmp_path, breakage, pattern):
    write_sfm_sequences(tmp_path)
    if breakage == "no train list":
        (tmp_path / "train.txt").unlink()
    if breakage == "three words":
        (tmp_path / "val.txt").write_text("drive_a 0000000003\ndrive_b 0000000003 extra\n")
    if breakage == "no camera":
        (tmp_path / "drive_a" / "0000000002_cam.txt").unlink()
    if breakage == "eight numbers":
        (tmp_path / "drive_b" / "0000000001_cam.txt").write_text("20.,0.,11.5,0.,20.,3.5,0.,0.")
    if breakage == "odd width":
        Image.new("RGB", (71, 8)).save(tmp_path / "drive_a" / "0000000001.jpg")
    with pytest.raises(ValueError, match=pattern):
        kt.datasets.check_sfm_sequences(tmp_path)


def test_depth_test_set_reads_images_and_checks_counts(tmp_path):
    for name in ("a.png", "sub/b.jpg"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        Image.new("RGB", (24, 8), (255, 0, 0)).save(tmp_path / name)
    (tmp_path / "test.txt").write_text("a.png\n\nsub/b.jpg\n")
    np.save(tmp_path / "depth.npy", np.ones((2, 8, 24), np.float32))
    data = kt.datasets.depth_ground_truth(tmp_path / "test.txt", tmp_path / "depth.npy", (4, 12))
    assert data["images"].shape == (2, 4, 12, 3) and data["depth"].shape == (2, 8, 24)
    # Red: at its default quality JPEG gave 254 of 255 (measured), so atol = 2 levels.
    np.testing.assert_allclose(data["images"][..., 0], 1.0, atol=2 / 255)
    np.save(tmp_path / "three.npy", np.ones((3, 8, 24), np.float32))
    with pytest.raises(ValueError, match=r"holds 3 maps; the image list names 2"):
        kt.datasets.depth_ground_truth(tmp_path / "test.txt", tmp_path / "three.npy", (4, 12))
    np.save(tmp_path / "flat.npy", np.ones((8, 24), np.float32))
    with pytest.raises(ValueError, match=r"\[N, H, W\].*Received: shape=\(8, 24\)"):
        kt.datasets.check_depth_maps(tmp_path / "flat.npy")
    (tmp_path / "test.txt").write_text("a.png\nmissing.png\n")
    with pytest.raises(ValueError, match=r"Line 2 .*names no file.*missing\.png"):
        kt.datasets.check_image_list(tmp_path / "test.txt")
