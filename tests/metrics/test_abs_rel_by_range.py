import numpy as np
import pytest

import kerastricks as kt
from tests.metrics.test_depth_metrics import random_depths

pytestmark = pytest.mark.backend_independent


def reference(gt_depth, pred_depth, edges, min_depth, max_depth, median_scaling):
    """Per image: SfMLearner's scaling and cap, then each range's share, Abs Rel, sum / n."""
    rows = {"share": [], "abs_rel": [], "contribution": [], "pixels": []}
    for gt, pred in zip(gt_depth, pred_depth, strict=True):
        pred = np.copy(pred)
        mask = np.logical_and(gt > min_depth, gt < max_depth)
        if median_scaling:
            pred[mask] *= np.median(gt[mask]) / np.median(pred[mask])
        pred = np.clip(pred, min_depth, max_depth)
        g, p = gt[mask], pred[mask]
        error = np.abs(g - p) / g
        image = {key: [] for key in rows}
        for low, high in zip(edges, edges[1:]):
            inside = (g >= low) & (g < high)
            image["pixels"].append(inside.sum())
            image["share"].append(inside.mean())
            image["abs_rel"].append(error[inside].mean() if inside.any() else 0.0)
            image["contribution"].append(error[inside].sum() / g.size)
        for key in rows:
            rows[key].append(image[key])
    return {key: np.array(value) for key, value in rows.items()}


@pytest.mark.parametrize("median_scaling", [True, False])
@pytest.mark.parametrize(
    "bounds, min_depth, max_depth",
    [((1.0, 2.0, 5.0, 10.0, 20.0), 1e-3, 80.0), ((10.0, 30.0), 2.0, 50.0)],
)
def test_matches_a_numpy_split(bounds, min_depth, max_depth, median_scaling):
    true, pred = random_depths(3)  # truths 1-100 m, 20 % missing, per-image scale off
    true[:, 0, :4] = [0.5, 1.5, 2.5, 4.0]  # a few near pixels in every image
    expected = reference(
        true, pred, [min_depth, *bounds, max_depth], min_depth, max_depth, median_scaling
    )
    result = kt.metrics.abs_rel_by_range(true, pred, bounds, min_depth, max_depth, median_scaling)
    for key, values in expected.items():
        # float32 sums of at most 240 terms of size <= 80 against float64: rtol 2e-5 as
        # depth_metrics' comparison with the same loop.
        np.testing.assert_allclose(result[key], values, rtol=2e-5, atol=1e-6, err_msg=key)


def test_contributions_add_up_to_abs_rel():
    true, pred = random_depths(4, (3, 10, 14, 1))
    split = kt.metrics.abs_rel_by_range(true, pred)
    total = kt.metrics.depth_metrics(true, pred)
    # The ranges partition the counted pixels: shares sum to 1, contributions to Abs Rel.
    np.testing.assert_allclose(np.sum(split["share"], axis=-1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(np.sum(split["contribution"], axis=-1), total["abs_rel"], rtol=1e-5)
    np.testing.assert_array_equal(np.sum(split["pixels"], axis=-1), total["valid_pixels"])


def test_image_without_ground_truth_gives_finite_zeros():
    true = np.zeros((2, 3, 3), np.float32)
    true[1] = 5.0
    split = kt.metrics.abs_rel_by_range(true, np.zeros_like(true))
    for key, values in split.items():
        assert np.all(np.isfinite(values)), key
        np.testing.assert_array_equal(values[0], 0.0)
    np.testing.assert_array_equal(split["pixels"][1], [0, 0, 0, 9, 0, 0])  # 5 m: [5, 10), the 4th


@pytest.mark.parametrize(
    "bounds, error, match",
    [
        ((2.0, 1.0), ValueError, "increase strictly"),
        ((1.0, 80.0), ValueError, "between"),
        ("1 2", TypeError, "bounds"),
        ((1.0, "2"), TypeError, "numbers"),
    ],
)
def test_bad_bounds(bounds, error, match):
    depth = np.ones((1, 2, 2), np.float32)
    with pytest.raises(error, match=match):
        kt.metrics.abs_rel_by_range(depth, depth, bounds)
