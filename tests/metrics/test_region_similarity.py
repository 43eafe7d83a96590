import numpy as np
import pytest

import kerastricks as kt

pytestmark = pytest.mark.backend_independent


def loop_iou(truth, predicted, k):
    """IoU of label k in one frame, counted pixel by pixel; 1 when both are empty."""
    both = either = 0
    for a, b in zip(truth.ravel(), predicted.ravel(), strict=True):
        both += (a == k) and (b == k)
        either += (a == k) or (b == k)
    return 1.0 if either == 0 else both / either


def test_matches_pixel_counting():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 4, size=(5, 6, 7))
    predicted = np.where(
        rng.uniform(size=truth.shape) < 0.7, truth, rng.integers(0, 4, truth.shape)
    )
    for skip_first in (True, False):
        start = 1 if skip_first else 0
        # Expected: per-object mean over frames of the loop IoU above.
        expected = [
            np.mean([loop_iou(truth[t], predicted[t], k) for t in range(start, 5)])
            for k in (1, 2, 3)
        ]
        np.testing.assert_allclose(
            kt.metrics.region_similarity(truth, predicted, skip_first), expected
        )


def test_edge_cases():
    truth = np.zeros((3, 2, 2), int)
    truth[0, 0, 0] = 1  # object 1 is visible only in frame 0, then fully occluded
    predicted = truth.copy()
    # Frames 1 and 2: empty in both, so each counts 1 (DAVIS convention).
    np.testing.assert_array_equal(kt.metrics.region_similarity(truth, predicted), [1.0])
    predicted[1:, 1, 1] = 1  # a false positive where the object is absent
    np.testing.assert_array_equal(kt.metrics.region_similarity(truth, predicted), [0.0])
    assert kt.metrics.region_similarity(np.zeros((2, 2, 2)), np.zeros((2, 2, 2))).shape == (0,)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="label maps"):
        kt.metrics.region_similarity(np.zeros((2, 3, 3)), np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="No frame left"):
        kt.metrics.region_similarity(np.zeros((1, 3, 3)), np.zeros((1, 3, 3)))
    with pytest.raises(TypeError, match="skip_first"):
        kt.metrics.region_similarity(np.zeros((2, 3, 3)), np.zeros((2, 3, 3)), 1)
