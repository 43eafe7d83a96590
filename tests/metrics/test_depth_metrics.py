import numpy as np
import pytest
import tensorflow as tf

import kerastricks as kt

pytestmark = pytest.mark.backend_independent


def reference(gt_depth, pred_depth, min_depth, max_depth, median_scaling=True):
    """The evaluation loop of SfMLearner's `kitti_eval/eval_depth.py`, one image at a time."""
    rows = {k: [] for k in ("abs_rel", "sq_rel", "rmse", "rmse_log", "a1", "a2", "a3")}
    for gt, pred in zip(gt_depth, pred_depth, strict=True):
        pred = np.copy(pred)
        mask = np.logical_and(gt > min_depth, gt < max_depth)
        if median_scaling:
            pred[mask] *= np.median(gt[mask]) / np.median(pred[mask])
        pred[pred < min_depth] = min_depth
        pred[pred > max_depth] = max_depth
        g, p = gt[mask], pred[mask]
        thresh = np.maximum(g / p, p / g)
        rows["a1"].append((thresh < 1.25).mean())
        rows["a2"].append((thresh < 1.25**2).mean())
        rows["a3"].append((thresh < 1.25**3).mean())
        rows["rmse"].append(np.sqrt(((g - p) ** 2).mean()))
        rows["rmse_log"].append(np.sqrt(((np.log(g) - np.log(p)) ** 2).mean()))
        rows["abs_rel"].append(np.mean(np.abs(g - p) / g))
        rows["sq_rel"].append(np.mean(((g - p) ** 2) / g))
    return {k: np.array(v) for k, v in rows.items()}


RENAMED = {"a1": "delta_1", "a2": "delta_2", "a3": "delta_3"}


def random_depths(seed, shape=(4, 12, 20)):
    rng = np.random.default_rng(seed)
    true = rng.uniform(1.0, 100.0, shape)  # some beyond the 80 m cap
    true[rng.random(shape) < 0.2] = 0.0  # missing ground truth
    pred = (
        true
        * rng.uniform(0.5, 1.8, shape)
        * rng.uniform(0.1, 10.0, (shape[0],) + (1,) * (len(shape) - 1))
    )
    pred = np.maximum(pred, rng.uniform(0.5, 3.0, shape))  # also where truth is missing
    return true.astype(np.float32), pred.astype(np.float32)


@pytest.mark.parametrize("median_scaling", [True, False])
@pytest.mark.parametrize("min_depth, max_depth", [(1e-3, 80.0), (2.0, 50.0)])
def test_matches_the_sfmlearner_evaluation(median_scaling, min_depth, max_depth):
    true, pred = random_depths(0)
    expected = reference(true, pred, min_depth, max_depth, median_scaling)
    # Even and odd numbers of counted pixels per image: the median's two cases.
    result = kt.metrics.depth_metrics(true, pred, min_depth, max_depth, median_scaling)
    for key, values in expected.items():
        np.testing.assert_allclose(result[RENAMED.get(key, key)], values, rtol=2e-5, atol=1e-6)


def test_median_of_even_and_odd_counts():
    # Counted truths {2, 4, 6, 9} (median 5) and {2, 4, 6} (median 4); predictions all 1.
    true = np.array([[2.0, 4.0, 6.0, 9.0], [2.0, 4.0, 6.0, 0.0]], np.float32)
    result = kt.metrics.depth_metrics(true, np.ones_like(true))
    np.testing.assert_allclose(result["scale"], [5.0, 4.0])
    np.testing.assert_array_equal(result["valid_pixels"], [4, 3])


def test_perfect_up_to_scale_and_channel_axis():
    true, _ = random_depths(1, (2, 6, 8, 1))
    result = kt.metrics.depth_metrics(true, 0.25 * np.maximum(true, 1.0))
    # Each prediction is the truth times 1/4 on counted pixels: median scaling undoes it.
    np.testing.assert_allclose(result["scale"], [4.0, 4.0], rtol=1e-6)
    for key in ("abs_rel", "sq_rel", "rmse", "rmse_log"):
        np.testing.assert_allclose(result[key], 0.0, atol=1e-5)
    for key in ("delta_1", "delta_2", "delta_3"):
        np.testing.assert_allclose(result[key], 1.0)


def test_the_cap_clips_predictions_and_excludes_far_truth():
    # Truth 10 m and 100 m (excluded); predicting 200 m is clipped to the 80 m cap.
    true = np.array([[10.0, 100.0]], np.float32)
    pred = np.array([[200.0, 5.0]], np.float32)
    result = kt.metrics.depth_metrics(true, pred, median_scaling=False)
    np.testing.assert_allclose(result["abs_rel"], [7.0])  # |10 - 80| / 10
    np.testing.assert_allclose(result["rmse"], [70.0])
    np.testing.assert_array_equal(result["valid_pixels"], [1])


def test_image_without_ground_truth_gives_finite_zeros():
    true = np.zeros((2, 3, 3), np.float32)
    true[1] = 5.0
    pred = np.zeros((2, 3, 3), np.float32)  # even zero predictions stay finite
    result = kt.metrics.depth_metrics(true, pred)
    for key, values in result.items():
        assert np.all(np.isfinite(values)), key
    np.testing.assert_array_equal(result["abs_rel"][0], 0.0)
    np.testing.assert_array_equal(result["valid_pixels"], [0, 9])


@pytest.mark.tensorflow
def test_compiles_with_xla_and_an_unknown_batch():
    true, pred = random_depths(2)
    function = tf.function(
        lambda t, p: kt.metrics.depth_metrics(t, p)["abs_rel"],
        jit_compile=True,
        input_signature=[tf.TensorSpec((None, 12, 20), tf.float32)] * 2,
    )
    expected = reference(true, pred, 1e-3, 80.0)["abs_rel"]
    np.testing.assert_allclose(function(true, pred), expected, rtol=2e-5)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"min_depth": 0.0}, ValueError, "min_depth"),
        ({"min_depth": 5.0, "max_depth": 5.0}, ValueError, "max_depth"),
        ({"median_scaling": 1}, TypeError, "median_scaling"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    depth = np.ones((1, 2, 2), np.float32)
    with pytest.raises(error, match=match):
        kt.metrics.depth_metrics(depth, depth, **kwargs)


def test_mismatched_shapes():
    with pytest.raises(ValueError, match=r"same shape.*Received: shapes"):
        kt.metrics.depth_metrics(np.ones((1, 2, 2)), np.ones((1, 2, 3)))
