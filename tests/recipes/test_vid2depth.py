import json
import math
import re

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers

import kerastricks as kt
from tests.helpers import (
    check_recipe_exports,
    load_recipe,
    one_line_usage_error,
    write_sfm_sequences,
)


@pytest.fixture(scope="module")
def recipe():
    return load_recipe("vid2depth")


def check_outputs(metrics, output, size):
    for name in ("metrics.json", "report.md", "depth.png", "losses.png"):
        assert (output / name).is_file(), name
    # Both shipped networks from their files: .keras (safe_mode) and SavedModel agree; the
    # disparity network serves its finest scale only.
    images = kt.datasets.synthetic_driving(1, 4, size, seed=5)["images"]
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
        assert 0.0 <= scores["direction_error"] <= 180.0 and scores["ratio_error"] >= 0.0
    assert "direction_error" in report and "ratio_error" in report and "depth_slope" in report
    assert "at_depth_limits" in report
    trained = [s for n, s in metrics["results"].items() if n != "train-set mean depth"]
    assert trained and all(0.0 <= s["at_depth_limits"] <= 1.0 for s in trained)
    # The by-range split partitions the counted pixels: shares sum to 1 and contributions
    # to the model's Abs Rel (float32 sums over a few thousand pixels: rtol 1e-4).
    assert "Abs Rel by range" in report
    for name, ranges in metrics["abs_rel_by_range"].items():
        shares = sum(r["share"] for r in ranges.values())
        total = sum(r["contribution"] for r in ranges.values())
        assert shares == pytest.approx(1.0, rel=1e-4), name
        assert total == pytest.approx(metrics["results"][name]["abs_rel"], rel=1e-4), name


# The synthetic quick run runs on two replicas only (the stronger check, and it keeps CI
# short); on one device, with the XLA-compiled step, the recipe runs in the own-data test.
def test_quick_run_mirrored_over_two_cpus(recipe, tmp_path):
    metrics = recipe.main(
        [
            *("--quick", "--output", str(tmp_path), "--distribute", "mirrored"),
            *("--variants", "no_ssim", "--upsample", "--min-reprojection", "--automask"),
            # vid2depth's depth floor: with the default 0.01 this combination raised its loss
            # over the 12 quick steps in two runs of three (0.159 -> 0.170, 0.220), against
            # 0.151 -> 0.121 at 0.1 (the default "all" falls at 0.01: 0.502 -> 0.400). A
            # 0.01 floor starts every depth 10x nearer; this combination's first steps stray.
            *("--image-size", "16", "48", "--depth-range", "0.1", "100"),
        ]
    )
    check_outputs(metrics, tmp_path, (16, 48))
    assert set(metrics["results"]) == {"train-set mean depth", "no_ssim"}
    assert metrics["loss_after_training"]["no_ssim"] < metrics["loss_before_training"]["no_ssim"]


def test_quick_run_in_mixed_precision_with_paired_poses(recipe, tmp_path):
    # One device, the XLA-compiled losses, mixed_float16 and paired pose networks (the
    # joint one and the refitted one): the run trains and ships both networks, each checked
    # by the recipe against its reloaded files. `--mixed-precision` used to die at export
    # (a float16 disparity near 100 has steps of 0.0625).
    argv = ["--quick", "--output", str(tmp_path), "--mixed-precision", "--pose-input", "pairs"]
    argv += ["--image-size", "16", "48", "--variants", "no_icp"]  # ICP's XLA compile: minutes
    metrics = recipe.main(argv)  # conftest.py restores the float32 policy after the test
    scores = metrics["results"]["no_icp"]
    assert all(math.isfinite(value) for value in scores.values()), scores
    assert metrics["loss_after_training"]["no_icp"] < metrics["loss_before_training"]["no_icp"]
    pose_net = keras.saving.load_model(tmp_path / "pose_net.keras", safe_mode=True)
    assert "pair_pose" in [layer.name for layer in pose_net.layers]
    body = {layer.compute_dtype for layer in pose_net.get_layer("pair_pose").layers[1:]}
    assert body == {"float16"}  # the convolutions in float16
    assert pose_net.outputs[0].dtype == "float32"  # the output, as Keras advises


def test_oracles_feed_the_ground_truth_to_training(recipe):
    data = kt.datasets.synthetic_driving(1, 3, (16, 24), seed=0)
    args = recipe.build_parser().parse_args(["--oracle-pose", "--oracle-depth"])
    inputs = recipe.training_inputs(data, args)
    assert set(inputs) == {"images", "intrinsics", "poses", "depth"}
    np.testing.assert_array_equal(inputs["poses"], data["poses"])
    plain = recipe.training_inputs(data, recipe.build_parser().parse_args([]))
    assert set(plain) == {"images", "intrinsics"}  # no labels without the oracles


@pytest.mark.parametrize("spacing", ["linear", "log"])
def test_disparity_spans_the_depth_range_linearly_or_in_log(recipe, spacing):
    network = recipe.disparity_network(16, 48, base=4, num_scales=2, depth_range=(0.5, 50.0),
                                       spacing=spacing)  # fmt: skip
    heads = [layer for layer in network.layers if getattr(layer, "filters", None) == 1]
    assert len(heads) == 2
    image = np.zeros((1, 16, 48, 3), "float32")
    low, high = 1.0 / 50.0, 1.0 / 0.5
    # Each head's sigmoid pinned at 0, 1/2 and 1 by its bias (zero kernel). Linear:
    # low + (high - low) s; log: exp(log low + (log high - log low) s).
    for bias, s in ((-50.0, 0.0), (0.0, 0.5), (50.0, 1.0)):
        for head in heads:
            kernel, _ = head.get_weights()
            head.set_weights([np.zeros_like(kernel), np.full((1,), bias, "float32")])
        expected = low + (high - low) * s if spacing == "linear" else low ** (1 - s) * high**s
        for disparity in network(image):
            np.testing.assert_allclose(np.asarray(disparity), expected, rtol=1e-5)


def test_a_depth_range_without_pixels_is_null_and_a_dash(recipe):
    # Every true depth in 5-10 m, the prediction 10 % too far (median scaling removes it).
    true = np.full((2, 4, 6), 8.0, np.float32)
    true[:, 0] = 6.0
    pred = 1.1 * true
    scores = recipe.range_scores(true, pred)
    assert [label for label, r in scores.items() if r["abs_rel"] is None] == [
        "0-1 m", "1-2 m", "2-5 m", "10-20 m", "20-80 m"
    ]  # fmt: skip
    assert scores["5-10 m"]["share"] == pytest.approx(1.0)
    assert scores["5-10 m"]["abs_rel"] == pytest.approx(0.0, abs=1e-6)  # median scaling
    json.loads(json.dumps(scores), parse_constant=pytest.fail)  # no NaN in metrics.json
    table = recipe.range_table({"model": scores})
    assert "| 0-1 m | 0.0% | – |" in table and "| 5-10 m | 100.0% | 0.000 (0.000) |" in table


def test_own_ground_truth_without_a_pixel_in_range_scores_null(recipe):
    truth = {"depth": np.zeros((2, 4, 6), np.float32)}  # an all-unknown depth file
    scores = recipe.ground_truth_scores(truth, np.ones((2, 4, 6), np.float32))
    assert scores == {**dict.fromkeys(recipe.METRICS), "images": 0}


def test_frame_steps_train_on_wider_windows_of_the_same_streets(recipe):
    args = recipe.build_parser().parse_args(
        ["--frame-steps", "2", "--train-sequences", "2", "--test-sequences", "1"]
        + ["--sequence-length", "5", "--image-size", "8", "24"]
    )
    windows, train, test = recipe.make_data(args)
    reference = kt.datasets.synthetic_driving(2, 5, (8, 24), seed=0, frame_step=2)
    np.testing.assert_array_equal(windows["images"], reference["images"])
    assert len(train["frame"]) == 2 * 3 and len(test["frame"]) == 3  # step 1: baselines
    args.frame_steps = None  # the default: steps 1 and 2
    windows, _, _ = recipe.make_data(args)
    np.testing.assert_array_equal(windows["frame"], [1, 2, 3, 1, 2, 3, 2, 2])
    np.testing.assert_array_equal(windows["frame_step"], [1] * 6 + [2] * 2)
    np.testing.assert_array_equal(windows["images"][6:], reference["images"])
    parse = kt.recipe_utils.parse_recipe_args
    for steps in (["3"], ["1", "1"]):  # windows of 7 frames from 5-frame videos; repeated
        with pytest.raises(SystemExit):
            parse(recipe.build_parser(), ["--frame-steps", *steps, "--sequence-length", "5"])


def test_a_mirrored_window_warps_into_the_mirrored_warp(recipe):
    # Mirror symmetry: warping the mirrored source with the mirrored depth, pose and
    # camera gives the mirror image of the original warp (and its mask). The principal
    # point is moved off-centre first, so that cx -> W - 1 - cx is checked too.
    data = kt.datasets.synthetic_driving(1, 3, image_size=(16, 48), seed=4)
    window = {key: tf.constant(data[key][0]) for key in ("images", "intrinsics", "depth", "poses")}
    window["intrinsics"] = window["intrinsics"] + tf.constant(
        [[0, 0.7, -3.0], [0, 0, 1.5], [0, 0, 0]]
    )
    mirrored = recipe.mirror_window(window)
    fx, skew, cx = data["intrinsics"][0, 0, 0], 0.7, data["intrinsics"][0, 0, 2] - 3.0
    np.testing.assert_allclose(
        mirrored["intrinsics"][0], [fx, -skew, 47 - cx], rtol=1e-6
    )  # NumPy: u' = W - 1 - u

    def warp(w):
        return kt.geometry.projective_inverse_warp(
            w["images"][None, 0], w["depth"][None, 1], w["poses"][None, 0], w["intrinsics"][None]
        )

    # atol: float32 rounding of pixel coordinates near 48 (~6e-6 px) times image gradients <= 1.
    (image, mask), (image_m, mask_m) = warp(window), warp(mirrored)
    np.testing.assert_allclose(np.asarray(image_m)[:, :, ::-1], np.asarray(image), atol=1e-5)
    np.testing.assert_array_equal(np.asarray(mask_m)[:, :, ::-1], np.asarray(mask))
    twice = recipe.mirror_window(mirrored)
    for key in window:
        np.testing.assert_allclose(np.asarray(twice[key]), np.asarray(window[key]), atol=1e-6)


def test_mirrored_training_flips_about_half_the_windows(recipe):
    inputs = {
        "images": np.arange(32, dtype="float32").reshape(32, 1, 1, 1, 1)
        * np.ones((1, 3, 2, 4, 3), "float32"),
        "intrinsics": np.tile(np.eye(3, dtype="float32"), (32, 1, 1)),
    }
    inputs["images"][..., 0, :] = -1.0  # the left column marks the orientation
    batch = next(iter(recipe.training_dataset(inputs, 32, seed=0, mirror=True)))
    left = np.asarray(batch["images"])[:, 0, 0, 0, 0]
    flipped = left != -1.0
    assert 8 <= flipped.sum() <= 24  # binomial(32, 1/2): outside this range p < 0.01
    plain = next(iter(recipe.training_dataset(inputs, 32, seed=0)))
    assert np.all(np.asarray(plain["images"])[:, 0, 0, 0, 0] == -1.0)


def test_icp_is_computed_only_when_a_variant_weights_it(recipe):
    def iterations(*argv):
        return recipe.icp_settings(recipe.build_parser().parse_args(list(argv)))["iterations"]

    assert iterations("--variants", "all", "no_icp") == 3  # the default --icp-iterations
    assert iterations("--variants", "no_icp") == 0  # weighted 0 by its variant
    assert iterations("--variants", "all", "no_ssim", "--icp-weight", "0") == 0


@pytest.mark.parametrize(
    "flags",
    [
        ["--automask"],
        ["--min-reprojection", "--consistency-weight", "0.5"],
        ["--min-reprojection", "--trim", "0.2"],
        ["--trim", "1"],
        ["--pose-lr-multiplier", "0"],
        ["--pose-norm", "group", "--width", "12"],
    ],
)
def test_flags_that_need_another_flag_or_not_it_are_refused(recipe, flags):
    with pytest.raises(SystemExit):
        recipe.main(["--quick", *flags])


def test_pose_norm_chooses_the_pose_networks_normalisation(recipe):
    def kinds(argv):
        args = recipe.build_parser().parse_args(["--image-size", "16", "48", *argv])
        args.jit_compile = False
        model = recipe.build_model(args, tf.distribute.get_strategy())
        return {type(layer).__name__ for layer in model.pose_net.layers}

    assert "BatchNormalization" in kinds([])
    assert {"BatchNormalization", "GroupNormalization"}.isdisjoint(kinds(["--pose-norm", "none"]))
    group = kinds(["--pose-norm", "group"])
    assert "GroupNormalization" in group and "BatchNormalization" not in group


def test_pose_lr_multiplier_scales_the_pose_networks_first_adam_step(recipe):
    # Adam's first step with a gradient of ones moves every weight by the learning rate
    # (m_hat = v_hat = 1): lr for the disparity network, M * lr for the pose network.
    args = recipe.build_parser().parse_args(
        ["--image-size", "16", "48", "--pose-lr-multiplier", "4", "--learning-rate", "0.01"]
    )
    args.jit_compile = False
    model = recipe.build_model(args, tf.distribute.get_strategy())
    before = [variable.numpy() for variable in model.trainable_variables]
    model.optimizer.apply_gradients(
        [(tf.ones_like(variable), variable) for variable in model.trainable_variables]
    )
    pose = {id(variable) for variable in model.pose_net.trainable_variables}
    for variable, old in zip(model.trainable_variables, before, strict=True):
        expected = 0.04 if id(variable) in pose else 0.01
        np.testing.assert_allclose(old - variable.numpy(), expected, rtol=1e-4)


def test_pose_refit_trains_a_fresh_pose_network_with_the_depth_frozen(recipe):
    argv = ["--image-size", "16", "48", "--scales", "2", "--pose-refit-steps", "3"]
    argv += ["--steps-per-epoch", "2"]
    args = recipe.build_parser().parse_args(argv)
    args.jit_compile = False
    strategy = tf.distribute.get_strategy()
    model = recipe.build_model(args, strategy)
    data = kt.datasets.synthetic_driving(1, 4, (16, 48), seed=2)
    dataset = recipe.training_dataset(recipe.training_inputs(data, args), 2, seed=0)
    depth_before = [weight.numpy() for weight in model.disparity_net.weights]
    pose_before = [weight.numpy() for weight in model.pose_net.weights]
    keras.utils.set_random_seed(5)
    start = recipe.pose_network(16, 48, args.width, args.pose_scale, norm="none")
    keras.utils.set_random_seed(5)  # the refit's network starts from `start`'s weights
    refit = recipe.refit_pose_network(model, args, strategy, dataset, "all")
    # The depth is frozen: every weight, batch-norm statistics included, is as it was.
    for before, after in zip(depth_before, model.disparity_net.weights, strict=True):
        np.testing.assert_array_equal(before, after.numpy())
    assert model.disparity_net.trainable  # trainable again for the next variant
    # A new network, without normalisation, whose weights moved; the trained one untouched.
    assert refit is not model.pose_net
    kinds = {type(layer).__name__ for layer in refit.layers}
    assert {"BatchNormalization", "GroupNormalization"}.isdisjoint(kinds)
    for before, after in zip(pose_before, model.pose_net.weights, strict=True):
        np.testing.assert_array_equal(before, after.numpy())
    moved = [
        not np.array_equal(a.numpy(), b.numpy())
        for a, b in zip(start.weights, refit.weights, strict=True)
    ]
    assert all(moved), moved


@pytest.mark.parametrize("spacing", ["linear", "log"])
def test_disparity_heads_are_float32_under_mixed_precision(recipe, spacing):
    # In float16 a disparity near 100 (depth 0.01) has steps of 0.0625: the SavedModel of a
    # `--mixed-precision` run differed from the model by 3 steps and failed its export check.
    keras.config.set_dtype_policy("mixed_float16")  # conftest.py restores float32 after
    net = recipe.disparity_network(16, 48, base=8, num_scales=2, spacing=spacing)
    assert [output.dtype for output in net.outputs] == ["float32", "float32"]
    body = {layer.compute_dtype for layer in net.layers if isinstance(layer, layers.Conv2D)}
    assert body == {"float16", "float32"}  # the encoder and decoder stay in float16


def test_paired_pose_network_reads_each_translation_from_its_own_pair(recipe, tmp_path):
    # --pose-input pairs: the pose into t-1 sees frames t-1 and t only, the pose into t+1
    # frames t and t+1, through the same weights: a pair of frames seen from the earlier
    # window (as t, t+1) and from the later one (as t-1, t) gives inverse motions.
    rng = np.random.default_rng(0)
    frames = [rng.uniform(size=(2, 32, 64, 3)).astype("float32") for _ in range(4)]
    first, second = np.concatenate(frames[:3], -1), np.concatenate(frames[1:], -1)
    keras.utils.set_random_seed(0)  # scale 30: untrained poses far from the identity
    net = recipe.pose_network(32, 64, base=8, scale=30.0, norm="none", pairs=True)

    def matrices(network, window, k):
        return np.asarray(kt.geometry.pose_vec_to_matrix(network(window).numpy()[:, k]))

    product = matrices(net, first, 1) @ matrices(net, second, 0)  # b into c, then c into b
    np.testing.assert_allclose(product, np.broadcast_to(np.eye(4), product.shape), atol=1e-5)
    assert np.abs(matrices(net, first, 1) - np.eye(4)).max() > 0.05  # far from the identity
    # The pose into t-1 ignores frame t+1; the pose into t+1 does not.
    changed = np.concatenate([first[..., :6], frames[3]], -1)
    poses, moved = net(first).numpy(), net(changed).numpy()
    np.testing.assert_allclose(moved[:, 0], poses[:, 0], rtol=1e-5, atol=1e-9)
    assert np.abs(moved[:, 1] - poses[:, 1]).max() > 1e-3 * np.abs(poses[:, 1]).max()
    # The window network (one view of all three frames) has no such property: the check
    # can fail.
    keras.utils.set_random_seed(0)
    stacked = recipe.pose_network(32, 64, base=8, scale=30.0, norm="none")
    product = matrices(stacked, first, 1) @ matrices(stacked, second, 0)
    assert np.abs(product - np.eye(4)).max() > 1e-3
    # It ships: the `.keras` file (safe_mode) gives the same poses.
    kt.export.check_keras_round_trip(net, tmp_path / "pose_net.keras", first)


@pytest.mark.parametrize("pairs", [False, True])
def test_planar_pose_network_moves_on_the_ground_and_turns_about_the_vertical(
    recipe, pairs, tmp_path
):
    # --planar-motion: no climb (ty), pitch (rx) or roll (rz); forward, sideways and the
    # turn (tx, tz, ry) as the free network with the same weights predicts them. With
    # pairs, the pose into t-1 is the exact inverse of a turn on the ground: a NumPy
    # formula, R = Ry(ry), t -> -R^T t.
    window = np.random.default_rng(1).uniform(size=(2, 32, 64, 9)).astype("float32")
    keras.utils.set_random_seed(0)  # scale 30: untrained poses far from zero
    free = recipe.pose_network(32, 64, base=8, scale=30.0, norm="none", pairs=pairs)
    planar = recipe.pose_network(32, 64, base=8, scale=30.0, norm="none", pairs=pairs, planar=True)
    planar.set_weights(free.get_weights())  # the zeroing has no weights of its own
    poses, unconstrained = planar(window).numpy(), free(window).numpy()
    assert np.abs(unconstrained[..., [1, 3, 5]]).max() > 1e-2  # the check can fail
    np.testing.assert_allclose(poses[..., [1, 3, 5]], 0.0, atol=1e-6)
    np.testing.assert_allclose(poses[:, 1, [0, 2, 4]], unconstrained[:, 1, [0, 2, 4]], rtol=1e-5)
    if pairs:  # the earlier pair's motion (t-1 into t), inverted into the middle frame's
        encoder = planar.get_layer("pair_pose")
        tx, _, tz, _, ry, _ = np.moveaxis(encoder(window[..., :6]).numpy(), -1, 0)
        c, s = np.cos(ry), np.sin(ry)
        np.testing.assert_allclose(poses[:, 0, 4], -ry, rtol=1e-5)
        np.testing.assert_allclose(poses[:, 0, 0], -(c * tx - s * tz), rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(poses[:, 0, 2], -(s * tx + c * tz), rtol=1e-4, atol=1e-6)
    else:
        np.testing.assert_allclose(
            poses[:, 0, [0, 2, 4]], unconstrained[:, 0, [0, 2, 4]], rtol=1e-5
        )
    kt.export.check_keras_round_trip(planar, tmp_path / "pose_net.keras", window)


def test_group_normalised_pose_of_a_window_ignores_the_rest_of_its_batch(recipe):
    # In training, batch normalisation mixes the windows of a batch: one window's pose
    # changes with its neighbours. Group normalisation is per example: it must not.
    windows = np.random.default_rng(0).uniform(size=(4, 32, 64, 9)).astype("float32")

    def first_pose(norm, batch):
        keras.utils.set_random_seed(0)
        net = recipe.pose_network(32, 64, base=8, norm=norm)
        return net(batch, training=True).numpy()[0]

    other = np.concatenate([windows[:1], windows[1:][::-1] * 0.5])
    np.testing.assert_allclose(
        first_pose("group", windows), first_pose("group", other), rtol=1e-5, atol=1e-7
    )
    assert np.abs(first_pose("batch", windows) - first_pose("batch", other)).max() > 1e-5
    with pytest.raises(ValueError, match="norm must be"):
        recipe.pose_network(32, 64, norm="layer")


def test_icp_normalize_is_blind_to_the_scale_of_depth_and_translation(recipe):
    # Depth is known up to scale: with --icp-normalize the 3-D loss of every depth times
    # c, with every translation times c, is the same (the clouds and the translation in
    # units of the mean depth); without it, the paper's loss grows with c (its residuals
    # and translation are in the network's depth unit).
    data = kt.datasets.synthetic_driving(1, 4, (16, 48), seed=1)
    frames = data["images"][:2]
    depth = np.maximum(data["depth"][:2], 1.0)  # the sky (0) at 1 m: a cloud without holes
    k = data["intrinsics"][:2]

    def icp(normalize, c):
        args = recipe.build_parser().parse_args(["--image-size", "16", "48", "--icp-stride", "2"])
        args.icp_normalize, args.jit_compile = normalize, False
        model = recipe.build_model(args, tf.distribute.get_strategy())
        poses = data["poses"][:2].copy()
        poses[..., :3, 3] *= c
        return float(model.scale_losses(frames, c * depth, [poses[:, 0], poses[:, 1]], k, 0)[1])

    assert icp(True, 1.0) > 0.0
    assert icp(True, 7.0) == pytest.approx(icp(True, 1.0), rel=1e-4)
    assert icp(False, 7.0) > 2.0 * icp(False, 1.0)


def test_trim_averages_each_warp_without_its_worst_pixels(recipe):
    # The recipe's photometric term with --trim 0.25 at the true depth and poses (one
    # scale), against the four warps written out here and a NumPy trimmed mean: sort each
    # warp's in-view errors, drop the largest quarter, average the rest.
    data = kt.datasets.synthetic_driving(1, 4, (16, 48), seed=2)
    batch = {key: data[key][:2] for key in ("images", "intrinsics", "depth", "poses")}
    args = recipe.build_parser().parse_args(["--image-size", "16", "48", "--trim", "0.25"])
    args.jit_compile = False
    model = recipe.build_model(args, tf.distribute.get_strategy())
    model.set_variant(*recipe.variant_settings("all", args))
    _, terms = model.compute_losses(**batch)
    images, depth, poses, k = (batch[key] for key in ("images", "depth", "poses", "intrinsics"))
    inverse = np.linalg.inv(poses)
    warps = [(1, 0, poses[:, 0]), (1, 2, poses[:, 1]), (0, 1, inverse[:, 0]), (2, 1, inverse[:, 1])]
    means = []
    for target, source, pose in warps:
        warped, mask = kt.geometry.projective_inverse_warp(
            images[:, source], depth[:, target], pose, k
        )
        errors = np.asarray(
            kt.losses.photometric_error(images[:, target], warped, ssim_weight=0.15, l1_weight=0.85)
        )
        for e, m in zip(errors, np.asarray(mask)[..., 0]):
            kept = np.sort(e[m > 0])
            means.append(kept[: len(kept) - int(0.25 * len(kept))].mean())
    assert float(terms["photometric"]) == pytest.approx(np.mean(means), rel=1e-5)


def test_scale_disparity_finest_compares_every_scale_with_the_finest_disparity(recipe):
    # --scale-disparity finest: the coarser scale's losses use the finest disparity averaged
    # over 2x2 blocks (a NumPy reshape-mean here), whatever the coarse head outputs. So its
    # terms with a random coarse head equal vid2depth's own-head terms given that pooled
    # map as the coarse head's output, and differ from them given the random map.
    data = kt.datasets.synthetic_driving(1, 4, (16, 48), seed=2)
    images, k = data["images"][:2], data["intrinsics"][:2]
    rng = np.random.default_rng(0)
    finest = rng.uniform(0.05, 0.5, (6, 16, 48, 1)).astype("float32")  # 2 windows x 3 frames
    pooled = finest.reshape(6, 8, 2, 24, 2, 1).mean(axis=(2, 4))
    other = rng.uniform(0.05, 0.5, (6, 8, 24, 1)).astype("float32")
    poses = rng.normal(0.0, 0.01, (2, 2, 6)).astype("float32")
    terms = {}
    for choice in ("own", "finest"):
        argv = ["--image-size", "16", "48", "--scales", "2", "--scale-disparity", choice]
        args = recipe.build_parser().parse_args(argv)
        args.jit_compile = False
        model = recipe.build_model(args, tf.distribute.get_strategy())
        model.set_variant(*recipe.variant_settings("all", args))
        for name, coarse in (("other", other), ("pooled", pooled)):
            _, found = model.loss_terms([finest, coarse, poses], images, k)
            terms[choice, name] = {key: float(value) for key, value in found.items()}
    for key in ("photometric", "smoothness", "icp"):
        reference = terms["own", "pooled"][key]
        assert terms["finest", "other"][key] == pytest.approx(reference, rel=1e-5), key
        assert terms["finest", "pooled"][key] == pytest.approx(reference, rel=1e-5), key
    assert terms["own", "other"]["photometric"] != pytest.approx(
        terms["own", "pooled"]["photometric"], rel=1e-3
    )


def test_the_true_depths_of_a_street_are_consistent_across_its_frames(recipe):
    # The street's true depth of frame t, moved by the true pose into frame t-1, against
    # frame t-1's true depth sampled there: the same surface, so `depth_difference` ~ 0
    # away from box edges (bilinear sampling across an edge mixes two depths). With the
    # pose of frame t+1 instead, the frames' depths disagree: the check can fail.
    data = kt.datasets.synthetic_driving(1, 3, (32, 96), seed=4)
    depth, k = data["depth"][:, 1], data["intrinsics"]

    def difference(pose):
        projected = recipe.projected_depth(depth, pose, k)
        sampled, mask = kt.geometry.projective_inverse_warp(data["depth"][:, 0], depth, pose, k)
        keep = (np.asarray(mask)[..., 0] > 0) & (depth[..., 0] > 0)
        keep &= np.asarray(sampled)[..., 0] > 0  # not the sky's unknown depth
        return np.asarray(kt.losses.depth_difference(projected, sampled))[..., 0][keep]

    right, wrong = difference(data["poses"][:, 0]), difference(data["poses"][:, 1])
    # Measured at seed 4: medians 2e-4 and 7e-3; 89 % and 55 % of the pixels under 0.01.
    assert np.median(right) < 1e-3 and np.median(wrong) > 10 * np.median(right)
    assert np.mean(right < 0.01) > np.mean(wrong < 0.01) + 0.2


# compiled_loss: the losses' forward and backward pass in one XLA function (the networks
# run outside XLA, whose CPU convolutions are slower than TensorFlow's own).
def test_compiled_loss_gives_the_closed_form_gradient_to_the_outer_tape(recipe):
    weight = tf.Variable(1.5, trainable=False)  # read inside, as the loss switches are

    def loss_fn(outputs, offset):  # `offset`: data, not differentiated
        x, y, _ = outputs
        total = tf.reduce_sum(weight * x**2) + tf.reduce_sum(tf.sin(y)) + offset
        return total, {"x": tf.reduce_sum(x)}

    compiled = recipe.compiled_loss(loss_fn)
    x, y = tf.constant([0.5, -2.0, 3.0]), tf.constant([[0.1, 1.2]])
    unused = tf.constant([7.0])

    @tf.function  # as in a training step that is not compiled as a whole
    def step():
        with tf.GradientTape() as tape:
            tape.watch([x, y, unused])
            total, terms = compiled([x, y, unused], tf.constant(0.0))
            scaled = 3.0 * total  # an outer factor, as the loss scale or 1 / replicas
        return total, terms, tape.gradient(scaled, [x, y, unused])

    total, terms, (dx, dy, dunused) = step()
    # Closed forms: d/dx 1.5 x^2 = 3 x, d/dy sin y = cos y, times the outer 3.
    np.testing.assert_allclose(total, 1.5 * (0.25 + 4 + 9) + np.sin([0.1, 1.2]).sum(), rtol=1e-6)
    np.testing.assert_allclose(terms["x"], 1.5, rtol=1e-6)
    np.testing.assert_allclose(dx, 3.0 * 3.0 * np.array([0.5, -2.0, 3.0]), rtol=1e-6)
    np.testing.assert_allclose(dy, 3.0 * np.cos([[0.1, 1.2]]), rtol=1e-6)
    np.testing.assert_array_equal(dunused, [0.0])  # not in the loss: a zero gradient


def test_compiled_loss_scales_float16_gradients_before_rounding_them(recipe):
    # Mixed precision: the networks' float16 outputs, a loss scale of 2^15. The gradient
    # 1e-8 is below float16's smallest number (6e-8); scaled, 3.3e-4, it is not.
    compiled = recipe.compiled_loss(lambda outputs: (1e-8 * tf.reduce_sum(outputs[0]), {}))
    x = tf.constant([1.0, 2.0], dtype="float16")
    with tf.GradientTape() as tape:
        tape.watch(x)
        scaled = 2.0**15 * compiled([x])[0]
    gradient = tape.gradient(scaled, x)
    assert gradient.dtype == tf.float16
    # float16 has an 11-bit significand: rounding error at most 2^-11 relative.
    np.testing.assert_allclose(gradient, [2.0**15 * 1e-8] * 2, rtol=2.0**-11)


# ICP pairs each point with its nearest neighbour: a piecewise-constant choice. At a random
# start the predicted depth is nearly flat, so the clouds are near-regular grids whose points
# are equidistant from several neighbours, and XLA's and oneDNN's matmuls round such ties
# differently: measured, the ICP term differed by up to 20% between the two paths for 3 of
# 8 random starts (the other terms agreed to 1e-6). So ICP is compared on the true depth
# (the street's clouds: no ties, all 8 starts agreed to 1e-6), the rest on the networks'.
@pytest.mark.parametrize(
    ("variant", "true_depth", "compared"),
    [
        ("no_icp", False, ("photometric", "smoothness", "consistency")),
        ("all", True, ("photometric", "icp", "consistency")),
    ],
)
def test_the_compiled_losses_give_the_plain_losses_and_gradients(
    recipe, variant, true_depth, compared
):
    keras.utils.set_random_seed(0)
    argv = ["--image-size", "16", "48", "--scales", "2", "--consistency-weight", "0.5"]
    args = recipe.build_parser().parse_args(argv)
    args.jit_compile = True  # what prepare_run sets on one device
    data = kt.datasets.synthetic_driving(1, 4, (16, 48), seed=0)
    keys = ("images", "intrinsics", "depth") if true_depth else ("images", "intrinsics")
    batch = {key: data[key][:2] for key in keys}
    model = recipe.build_model(args, tf.distribute.get_strategy())
    assert model.options["compiled_losses"] and not model.jit_compile  # networks plain
    model.set_variant(*recipe.variant_settings(variant, args))

    def losses_and_gradients():  # traced anew for each path
        @tf.function
        def run():
            with tf.GradientTape() as tape:
                total, terms = model.compute_losses(**batch)
            return total, terms, tape.gradient(total, model.trainable_variables)

        return run()

    compiled = losses_and_gradients()
    model.options["compiled_losses"] = False
    plain = losses_and_gradients()
    # The same sums in other orders: float32 rounding of n ~ 1e4 terms is about
    # sqrt(n) 2^-24 ~ 1e-5 relative; 1e-4 leaves room. Per variable, the gradient's error
    # relative to its norm (single elements near 0 have no meaningful relative error).
    assert float(compiled[0]) == pytest.approx(float(plain[0]), rel=1e-4)
    for name in compared:
        assert float(compiled[1][name]) == pytest.approx(float(plain[1][name]), rel=1e-4), name
    for variable, ours, reference in zip(model.trainable_variables, compiled[2], plain[2]):
        if reference is None:  # the disparity network, unused on the true depth
            assert ours is None or not np.any(ours), variable.path
            continue
        error = np.linalg.norm(ours - reference) / np.linalg.norm(reference)
        assert error < 1e-4, variable.path


def test_warp_error_ranks_the_truth_below_no_motion(recipe):
    data = kt.datasets.synthetic_driving(1, 4, (16, 48), seed=3)
    true = recipe.warp_error(data, data["depth"][:, 1, ..., 0], data["poses"])
    # The reference: frame t-1 compared as it is, a plain masked mean written here.
    known = data["depth"][:, 1] > 0
    diff = np.abs(data["images"][:, 1] - data["images"][:, 0]) * known
    still = np.mean(diff.sum(axis=(1, 2, 3)) / (3 * known.sum(axis=(1, 2, 3))))
    np.testing.assert_allclose(recipe.warp_error(data), still, rtol=1e-5)
    assert true < still


def test_trajectory_scores_split_the_ate_into_direction_speed_ratio_and_rotation(recipe):
    # Straight-ahead motion to t-1 (backwards, length a) and t+1 (forward, length b); the
    # prediction turns every translation by a known angle about the vertical axis and
    # stretches the one to t+1: closed forms for both parts.
    a, b = np.array([0.8, 1.0, 1.2]), np.array([1.0, 1.05, 1.1])
    true = np.tile(np.eye(4), (3, 2, 1, 1))
    true[:, 0, 2, 3], true[:, 1, 2, 3] = -a, b
    angle, stretch = np.radians(2.0), 1.1
    turn = np.array(
        [[np.cos(angle), 0, np.sin(angle)], [0, 1, 0], [-np.sin(angle), 0, np.cos(angle)]]
    )
    pred = true.copy()
    pred[..., :3, 3] = true[..., :3, 3] @ turn.T
    pred[:, 1, :3, 3] *= stretch
    scores = recipe.trajectory_scores(true, pred)
    np.testing.assert_allclose(scores["direction_error"], 2.0, rtol=1e-4)
    ratio_error = np.sqrt(np.mean(((stretch - 1.0) * b / a) ** 2))
    np.testing.assert_allclose(scores["ratio_error"], ratio_error, rtol=1e-5)
    exact = recipe.trajectory_scores(true, 0.5 * true + 0.5 * np.eye(4))  # half-length
    assert exact["direction_error"] < 1e-3 and exact["ratio_error"] < 1e-6
    assert scores["rotation_error"] < 1e-3 and exact["rotation_error"] < 1e-3
    # The cameras turned by the same 2 degrees: the rotation's part, the others unchanged.
    turned = pred.copy()
    turned[..., :3, :3] = turn @ true[..., :3, :3]
    parts = recipe.trajectory_scores(true, turned)
    np.testing.assert_allclose(parts["rotation_error"], 2.0, rtol=1e-4)
    for key in ("direction_error", "ratio_error"):
        np.testing.assert_allclose(parts[key], scores[key], rtol=1e-6)


def test_at_depth_limits_counts_the_pixels_at_either_end_of_the_range(recipe):
    # Within 5 % of the ends of (0.01, 100): at most 0.0105, at least 100 / 1.05 = 95.24.
    depth = np.array([0.01, 0.0104, 0.0106, 0.5, 1.0, 5.0, 20.0, 60.0, 95.0, 96.0])
    assert recipe.at_depth_limits(depth, (0.01, 100.0)) == pytest.approx(3 / 10)
    # The disparity network's sigmoid saturated at 1 (the floor) or 0 (the ceiling) pins
    # every pixel; at 1/2 its depth is 1 / (0.01 + 99.99 / 2) = 0.02, inside the range.
    keras.utils.set_random_seed(0)
    net = recipe.disparity_network(16, 48, base=4, num_scales=1)
    image = np.random.default_rng(0).uniform(0, 1, (2, 16, 48, 3)).astype(np.float32)
    (last,) = [layer for layer in net.layers if getattr(layer, "filters", 0) == 1]
    kernel, bias = last.get_weights()
    expected = {50.0: 1.0, -50.0: 1.0, 0.0: 0.0}
    for value, fraction in expected.items():
        last.set_weights([np.zeros_like(kernel), np.full_like(bias, value)])
        depth = 1.0 / keras.tree.flatten(net.predict(image, verbose=0))[0][..., 0]
        assert recipe.at_depth_limits(depth, (0.01, 100.0)) == fraction, value


def test_depth_slope_is_the_exponent_of_a_power_law_prediction(recipe):
    # pred = c * true ** g is a line of slope g in log-log, whatever c: the median over
    # images of g. The sky (0) and depths beyond the 80 m cap are left out, whatever is
    # predicted there.
    rng = np.random.default_rng(0)
    true = rng.uniform(1.0, 60.0, (3, 8, 12)).astype(np.float32)
    true[:, 0], true[:, 1, :4] = 0.0, 95.0
    exponents, scales = np.array([0.5, 0.85, 1.0]), np.array([0.01, 1.0, 7.0])
    pred = scales[:, None, None] * true ** exponents[:, None, None]
    pred[:, 0], pred[:, 1, :4] = 1e3, 1e-3
    assert recipe.depth_slope(true, pred) == pytest.approx(0.85, rel=1e-5)
    assert recipe.depth_slope(true, np.full_like(true, 4.0)) == pytest.approx(0.0, abs=1e-6)


def test_pose_refinement_turns_a_tilted_motion_back_towards_the_truth(recipe):
    # The true depth and the true poses with the direction of travel tilted sideways and
    # vertically by 5 % of each translation (4.1 degrees): the network's error, made larger.
    data = kt.datasets.synthetic_driving(1, 8, (32, 96), seed=10_000)
    true = np.asarray(kt.geometry.matrix_to_pose_vec(data["poses"]))
    length = np.linalg.norm(true[..., :3], axis=-1, keepdims=True)
    signs = np.random.default_rng(0).choice([-1.0, 1.0], size=true[..., :2].shape)
    tilted = true.copy()
    tilted[..., :2] += 0.05 * length * signs
    poses = np.asarray(kt.geometry.pose_vec_to_matrix(tilted))
    depth = data["depth"][:, 1, ..., 0]
    refined = recipe.refine_poses(data, depth, poses, 50, (0.85, 0.15))

    def direction_error(matrices):  # the translation's error in units of its length
        vectors = np.asarray(kt.geometry.matrix_to_pose_vec(matrices))
        return np.linalg.norm(vectors[..., :3] - true[..., :3], axis=-1) / length[..., 0]

    before, after = direction_error(poses), direction_error(refined)
    np.testing.assert_allclose(before, 0.05 * np.sqrt(2), rtol=1e-4)
    # At 32x96 the loss's minimum lies within about 0.01 of the true direction
    # (docs/vid2depth.md, the tilt table), so the error cannot fall to 0: at least half of
    # it must go (0.071 -> 0.012 on these 6 windows, ATE 0.034 -> 0.005, when written).
    assert np.mean(after) < 0.5 * np.mean(before)
    ate = [recipe.trajectory_scores(data["poses"], p)["ate_mean"] for p in (poses, refined)]
    assert ate[1] < 0.5 * ate[0]


def test_keep_lengths_puts_the_refined_speeds_on_the_network_directions(recipe):
    # The network's directions and rotations, the refinement's lengths: NumPy's norms.
    rng = np.random.default_rng(0)
    poses, refined = (
        np.asarray(kt.geometry.pose_vec_to_matrix(rng.normal(size=(3, 2, 6)).astype("float32")))
        for _ in range(2)
    )
    kept = recipe.keep_lengths(poses, refined)
    np.testing.assert_array_equal(kept[..., :3, :3], poses[..., :3, :3])
    length = np.linalg.norm(kept[..., :3, 3], axis=-1)
    np.testing.assert_allclose(length, np.linalg.norm(refined[..., :3, 3], axis=-1), rtol=1e-6)
    direction = poses[..., :3, 3] / np.linalg.norm(poses[..., :3, 3], axis=-1, keepdims=True)
    np.testing.assert_allclose(kept[..., :3, 3], direction * length[..., None], rtol=1e-6)


def test_planar_refinement_finds_the_speeds_and_keeps_climb_pitch_and_roll(recipe):
    # The true depth and poses, the translation to t+1 stretched by 10 % (the speed ratio
    # off by 0.1, the street's spread is 0.07): the planar refinement must bring the
    # ratio back, and leave ty, rx and rz exactly where they were.
    data = kt.datasets.synthetic_driving(1, 8, (32, 96), seed=10_000)
    true = np.asarray(kt.geometry.matrix_to_pose_vec(data["poses"]))
    stretched = true.copy()
    stretched[:, 1, :3] *= 1.1
    stretched[..., [1, 3, 5]] += 0.001  # off the ground plane: must stay so
    poses = np.asarray(kt.geometry.pose_vec_to_matrix(stretched))
    depth = data["depth"][:, 1, ..., 0]
    refined = recipe.refine_poses(data, depth, poses, 50, (0.85, 0.15), planar=True)
    vectors = np.asarray(kt.geometry.matrix_to_pose_vec(refined))
    np.testing.assert_allclose(vectors[..., [1, 3, 5]], stretched[..., [1, 3, 5]], atol=1e-6)
    kept = recipe.keep_lengths(poses, refined)

    def ratio_error(matrices):
        return recipe.trajectory_scores(data["poses"], matrices)["ratio_error"]

    before = ratio_error(poses)  # 0.1 times the true ratio, rms
    true_ratio = np.linalg.norm(true[:, 1, :3], axis=-1) / np.linalg.norm(true[:, 0, :3], axis=-1)
    np.testing.assert_allclose(before, 0.1 * np.sqrt(np.mean(true_ratio**2)), rtol=1e-3)
    # At least half of it must go (0.100 -> 0.016 on these 6 windows when written).
    assert ratio_error(kept) < 0.5 * before


def reference_depth_metrics(true, pred):
    """SfMLearner's protocol in NumPy, per image: pixels with true depth in (1e-3, 80),
    prediction times median(true) / median(pred) there, clipped to [1e-3, 80]; the
    per-image Abs Rel, RMSE and delta < 1.25 averaged over the images."""
    rows = []
    for d, p in zip(true, pred):
        valid = (d > 1e-3) & (d < 80)
        d, p = d[valid], p[valid]
        p = np.clip(p * np.median(d) / np.median(p), 1e-3, 80)
        ratio = np.maximum(d / p, p / d)
        rows.append(
            [np.mean(np.abs(d - p) / d), np.sqrt(np.mean((d - p) ** 2)), np.mean(ratio < 1.25)]
        )
    return dict(zip(("abs_rel", "rmse", "delta_1"), np.mean(rows, axis=0)))


def write_depth_test_set(root, count=3, size=(16, 48)):
    """Single frames (PNG, at the network's size so that nothing is resized) and true
    depth maps: a ground plane, far at the top (0 = unknown in the first row)."""
    from PIL import Image

    rng = np.random.default_rng(1)
    root.mkdir()
    for i in range(count):
        pixels = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(root / f"frame_{i}.png")
    (root / "test_files.txt").write_text("".join(f"frame_{i}.png\n" for i in range(count)))
    rows = np.linspace(60.0, 3.0, size[0], dtype=np.float32)[:, None]
    depth = np.broadcast_to(rows * (1 + 0.1 * np.arange(count))[:, None, None], (count, *size))
    depth = np.array(depth)
    depth[:, 0] = 0.0
    np.save(root / "gt_depths.npy", depth)
    return depth


def test_own_windows_train_and_score_depth_on_your_ground_truth(recipe, tmp_path):
    write_sfm_sequences(tmp_path / "prepared")
    true = write_depth_test_set(tmp_path / "eval")
    output = tmp_path / "out"
    argv = ["--quick", "--data", str(tmp_path / "prepared"), "--output", str(output)]
    argv += ["--eval-images", str(tmp_path / "eval" / "test_files.txt")]
    argv += ["--eval-depth", str(tmp_path / "eval" / "gt_depths.npy")]
    argv += ["--image-size", "16", "48", "--distribute", "default"]  # 12 compiled steps
    metrics = recipe.main(argv)
    for name in ("metrics.json", "report.md", "depth.png", "losses.png", "model.keras"):
        assert (output / name).is_file(), name
    assert json.loads((output / "metrics.json").read_text()) == json.loads(json.dumps(metrics))
    assert metrics["windows"] == {"train": 4, "held_out": 2}  # the fixture's lists
    assert metrics["depth_evaluated"] is True
    rows = metrics["results"]
    assert list(rows) == ["constant depth (median-scaled)", "all"]
    # The baseline: a constant map, median-scaled, recomputed here.
    baseline = reference_depth_metrics(true, np.ones_like(true))
    # The trained network, reloaded from its .keras file, on the same pixels (PNGs at the
    # network's size: nothing resized); the same float32 network on the same input, so
    # only the order of sums may differ: rtol 1e-4.
    network = keras.saving.load_model(output / "model.keras", safe_mode=True)
    images = np.stack([read_png(tmp_path / "eval" / f"frame_{i}.png") for i in range(3)])
    disparity = keras.tree.flatten(network.predict(images, verbose=0))[0][..., 0]
    trained = reference_depth_metrics(true, 1.0 / disparity)
    for name, expected in (("constant depth (median-scaled)", baseline), ("all", trained)):
        assert rows[name]["images"] == 3
        for key, value in expected.items():
            assert rows[name][key] == pytest.approx(value, rel=1e-4), (name, key)
    report = (output / "report.md").read_text()
    assert "Depth on your ground truth" in report and "| all |" in report
    assert "0.163" not in report  # the paper's KITTI numbers are not these data's
    assert set(metrics["warp_errors"]) == {"no motion", "all: predicted depth and pose"}


def read_png(path):
    from PIL import Image

    return np.asarray(Image.open(path).convert("RGB"), np.float32) / 255.0


@pytest.mark.parametrize(
    "breakage, pattern",
    [
        ("no data folder", r"argument --data: The data folder does not exist"),
        ("odd width", r"argument --data: .*multiple of 3.*drive_a/0000000001\.jpg'"),
        ("no camera", r"argument --data: .*no camera file.*drive_b/0000000002_cam\.txt'"),
        ("missing image", r"argument --eval-images: Line 2 .*names no file.*frame_9\.png'"),
        ("flat depth", r"argument --eval-depth: .*\[N, H, W\].*Received: shape=\(16, 48\)"),
        ("count", r"--eval-depth holds 3 maps, --eval-images lists 2"),
        ("depth alone", r"--eval-images and --eval-depth go together"),
        ("oracle", r"--oracle-pose and --oracle-depth need the synthetic data"),
        ("frame steps", r"--frame-steps needs the synthetic data"),
    ],
)
def test_bad_own_data_is_a_one_line_error(recipe, tmp_path, capsys, breakage, pattern):
    from PIL import Image

    prepared, evaluation = tmp_path / "prepared", tmp_path / "eval"
    write_sfm_sequences(prepared)
    write_depth_test_set(evaluation)
    listing, depth = evaluation / "test_files.txt", evaluation / "gt_depths.npy"
    argv = ["--data", str(prepared), "--eval-images", str(listing), "--eval-depth", str(depth)]
    if breakage == "no data folder":
        argv[1] = str(tmp_path / "no_such")
    if breakage == "odd width":
        Image.new("RGB", (70, 8)).save(prepared / "drive_a" / "0000000001.jpg")
    if breakage == "no camera":
        (prepared / "drive_b" / "0000000002_cam.txt").unlink()
    if breakage == "missing image":
        listing.write_text("frame_0.png\nframe_9.png\n")
    if breakage == "flat depth":
        np.save(depth, np.ones((16, 48), np.float32))
    if breakage == "count":
        listing.write_text("frame_0.png\nframe_1.png\n")
    if breakage == "depth alone":
        argv = argv[:2] + argv[4:]
    if breakage == "oracle":
        argv.append("--oracle-pose")
    if breakage == "frame steps":
        argv += ["--frame-steps", "1", "2"]
    line = one_line_usage_error(capsys, recipe.main, argv)
    assert re.search(pattern, line), line


def test_the_report_names_the_command_line_of_a_script_run(recipe, monkeypatch):
    # Run as a script, main() gets argv=None: the report's command came out empty.
    monkeypatch.setattr("sys.argv", ["vid2depth.py", "--seed", "1"])
    assert recipe.run_line(None, {"all": 1.0}).startswith("`--seed 1`;")
    assert recipe.run_line(["--quick"], {}).startswith("`--quick`;")
