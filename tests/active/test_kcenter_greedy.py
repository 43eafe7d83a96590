"""kcenter_greedy against a SciPy brute force and the 2-approximation guarantee."""

import itertools

import numpy as np
import pytest
from scipy.spatial.distance import cdist

import kerastricks as kt

pytestmark = pytest.mark.backend_independent


def reference_greedy(points, k, centers=None):
    """Sener & Savarese Algorithm 1 with SciPy's cdist, recomputing everything each step."""
    chosen = []
    if centers is None:
        chosen.append(int(np.argmax(cdist(points, points.mean(0, keepdims=True))[:, 0])))
    while len(chosen) < k:
        anchors = np.concatenate(
            [points[chosen], centers if centers is not None else np.zeros((0, points.shape[1]))]
        )
        distance = cdist(points, anchors).min(axis=1)
        distance[chosen] = -np.inf
        chosen.append(int(np.argmax(distance)))
    return chosen


def cover_radius(points, chosen):
    return cdist(points, points[list(chosen)]).min(axis=1).max()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    points = rng.normal(size=(60, 5))
    np.testing.assert_array_equal(kt.active.kcenter_greedy(points, 8), reference_greedy(points, 8))
    centers = rng.normal(size=(4, 5))
    np.testing.assert_array_equal(
        kt.active.kcenter_greedy(points, 6, centers=centers), reference_greedy(points, 6, centers)
    )


def test_many_centers_use_several_blocks():
    rng = np.random.default_rng(3)
    points, centers = rng.normal(size=(50, 3)), rng.normal(size=(700, 3))  # 700 > 256 per block
    np.testing.assert_array_equal(
        kt.active.kcenter_greedy(points, 5, centers=centers), reference_greedy(points, 5, centers)
    )


def test_two_approximation_of_the_optimal_cover():
    # Exhaustive search over all 4-subsets of 12 points gives the optimal k-center radius;
    # greedy k-center is within a factor 2 of it (Gonzalez 1985).
    points = np.random.default_rng(4).uniform(size=(12, 2))
    optimum = min(cover_radius(points, s) for s in itertools.combinations(range(12), 4))
    greedy = kt.active.kcenter_greedy(points, 4)
    assert len(set(greedy.tolist())) == 4
    assert cover_radius(points, greedy) <= 2 * optimum + 1e-12


def test_duplicates_are_never_picked_twice():
    points = np.zeros((5, 2))  # every distance is 0
    assert sorted(kt.active.kcenter_greedy(points, 5).tolist()) == [0, 1, 2, 3, 4]


def test_edge_sizes_and_errors():
    points = np.eye(3, dtype="float32")
    assert kt.active.kcenter_greedy(points, 0).shape == (0,)
    assert kt.active.kcenter_greedy(points, 3, centers=np.zeros((0, 3))).shape == (3,)
    with pytest.raises(ValueError, match="`k` must be >= 0 and <= 3. Received: k=4"):
        kt.active.kcenter_greedy(points, 4)
    with pytest.raises(ValueError, match=r"rank 2 \(\[N, D\]\)"):
        kt.active.kcenter_greedy(np.zeros(4), 1)
    with pytest.raises(ValueError, match=r"embedding width 3.*Received: centers.shape=\(1, 2\)"):
        kt.active.kcenter_greedy(points, 1, centers=np.zeros((1, 2)))
    with pytest.raises(TypeError, match="numeric"):
        kt.active.kcenter_greedy(np.array([["a"]]), 1)
    with pytest.raises(ValueError, match="NaN"):
        kt.active.kcenter_greedy(np.full((2, 2), np.nan), 1)
