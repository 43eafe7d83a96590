import json
import math

import numpy as np
import pytest

import kerastricks as kt
from tests.helpers import check_recipe_exports, load_recipe


@pytest.fixture(scope="module")
def recipe():
    return load_recipe("vid2depth")


def check_outputs(metrics, output):
    for name in ("metrics.json", "report.md", "depth.png", "losses.png"):
        assert (output / name).is_file(), name
    # Both shipped networks from their files: .keras (safe_mode) and SavedModel agree; the
    # disparity network serves its finest scale only.
    images = kt.datasets.synthetic_driving(1, 4, (32, 96), seed=5)["images"]
    check_recipe_exports(output, images[:, 1], served=["disparity_0"])
    check_recipe_exports(
        output, np.concatenate(list(images.transpose(1, 0, 2, 3, 4)), -1), "pose_net"
    )
    assert json.loads((output / "metrics.json").read_text())["results"]
    report = (output / "report.md").read_text()
    assert "train-set mean depth" in report and "0.163" in report
    for name, scores in metrics["results"].items():
        for key, value in scores.items():
            assert math.isfinite(value), (name, key, value)
        assert 0.0 <= scores["delta_1"] <= scores["delta_2"] <= scores["delta_3"] <= 1.0
        assert scores["abs_rel"] >= 0.0 and scores["ate_mean"] >= 0.0


def test_quick_run_trains_and_writes_the_report(recipe, tmp_path):
    metrics = recipe.main(["--quick", "--output", str(tmp_path)])
    check_outputs(metrics, tmp_path)
    assert set(metrics["results"]) == {"train-set mean depth", "all"}
    # The loss on a fixed batch of windows falls over the few quick steps.
    assert metrics["loss_after_training"]["all"] < metrics["loss_before_training"]["all"]


def test_quick_run_mirrored_over_two_cpus(recipe, tmp_path):
    metrics = recipe.main(
        [
            *("--quick", "--output", str(tmp_path), "--distribute", "mirrored"),
            *("--variants", "no_ssim", "--upsample", "--min-reprojection", "--automask"),
        ]
    )
    check_outputs(metrics, tmp_path)
    assert set(metrics["results"]) == {"train-set mean depth", "no_ssim"}
    assert metrics["loss_after_training"]["no_ssim"] < metrics["loss_before_training"]["no_ssim"]


def test_oracles_feed_the_ground_truth_to_training(recipe):
    data = kt.datasets.synthetic_driving(1, 3, (16, 24), seed=0)
    args = recipe.build_parser().parse_args(["--oracle-pose", "--oracle-depth"])
    inputs = recipe.training_inputs(data, args)
    assert set(inputs) == {"images", "intrinsics", "poses", "depth"}
    np.testing.assert_array_equal(inputs["poses"], data["poses"])
    plain = recipe.training_inputs(data, recipe.build_parser().parse_args([]))
    assert set(plain) == {"images", "intrinsics"}  # no labels without the oracles


def test_icp_is_computed_only_when_a_variant_weights_it(recipe):
    def iterations(*argv):
        return recipe.icp_settings(recipe.build_parser().parse_args(list(argv)))["iterations"]

    assert iterations("--variants", "all", "no_icp") == 3  # the default --icp-iterations
    assert iterations("--variants", "no_icp") == 0  # weighted 0 by its variant
    assert iterations("--variants", "all", "no_ssim", "--icp-weight", "0") == 0


def test_automask_needs_min_reprojection(recipe):
    with pytest.raises(SystemExit):
        recipe.main(["--quick", "--automask"])


def test_warp_error_ranks_the_truth_below_no_motion(recipe):
    data = kt.datasets.synthetic_driving(1, 4, (16, 48), seed=3)
    true = recipe.warp_error(data, data["depth"][:, 1, ..., 0], data["poses"])
    # The reference: frame t-1 compared as it is, a plain masked mean written here.
    known = data["depth"][:, 1] > 0
    diff = np.abs(data["images"][:, 1] - data["images"][:, 0]) * known
    still = np.mean(diff.sum(axis=(1, 2, 3)) / (3 * known.sum(axis=(1, 2, 3))))
    np.testing.assert_allclose(recipe.warp_error(data), still, rtol=1e-5)
    assert true < still
