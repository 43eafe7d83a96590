"""representative_batch against a brute-force greedy and the (1 - 1/e) guarantee."""

import itertools

import numpy as np
import pytest

import kerastricks as kt

pytestmark = pytest.mark.backend_independent


def coverage(similarity, chosen):
    """F(S) = sum_x max_{s in S} max(sim(s, x), 0); 0 for the empty set."""
    if not chosen:
        return 0.0
    return np.maximum(similarity[list(chosen)], 0).max(axis=0).sum()


def cosine(features):
    unit = features / np.linalg.norm(features, axis=1, keepdims=True)
    return unit @ unit.T


def reference(scores, features, k, candidates):
    top = sorted(range(len(scores)), key=lambda i: -scores[i])[:candidates]
    similarity = cosine(features)
    chosen = []
    for _ in range(k):
        best = max(
            (c for c in top if c not in chosen), key=lambda c: coverage(similarity, chosen + [c])
        )
        chosen.append(best)
    return chosen


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_brute_force_greedy(seed):
    rng = np.random.default_rng(seed)
    features, scores = rng.normal(size=(40, 6)), rng.uniform(size=40)
    np.testing.assert_array_equal(
        kt.active.representative_batch(scores, features, 5, candidates=12),
        reference(scores, features, 5, 12),
    )


def test_default_candidates_are_twice_the_batch():
    rng = np.random.default_rng(3)
    features, scores = rng.uniform(size=(30, 4)), rng.uniform(size=30)
    picked = kt.active.representative_batch(scores, features, 4)
    top8 = set(np.argsort(-scores)[:8].tolist())
    assert set(picked.tolist()) <= top8 and len(set(picked.tolist())) == 4


def test_greedy_is_within_one_minus_one_over_e_of_the_optimum():
    # Coverage is monotone submodular: greedy >= (1 - 1/e) * optimum (Nemhauser et al. 1978).
    rng = np.random.default_rng(4)
    features, scores = rng.uniform(size=(14, 3)), rng.uniform(size=14)
    similarity = cosine(features)
    optimum = max(coverage(similarity, list(s)) for s in itertools.combinations(range(14), 3))
    picked = kt.active.representative_batch(scores, features, 3, candidates=14).tolist()
    assert coverage(similarity, picked) >= (1 - 1 / np.e) * optimum


def test_errors():
    with pytest.raises(ValueError, match=r"one row per score \(3\)"):
        kt.active.representative_batch(np.ones(3), np.ones((4, 2)), 1)
    with pytest.raises(ValueError, match="`candidates` must be >= 2 and <= 3"):
        kt.active.representative_batch(np.ones(3), np.ones((3, 2)), 2, candidates=1)
    with pytest.raises(ValueError, match="`k` must be >= 0 and <= 3"):
        kt.active.representative_batch(np.ones(3), np.ones((3, 2)), 5)
    with pytest.raises(ValueError, match="finite"):
        kt.active.representative_batch(np.array([np.nan, 1, 1]), np.ones((3, 2)), 1)
