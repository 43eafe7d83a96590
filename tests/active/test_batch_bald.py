"""BatchBALD against a brute-force NumPy reference that enumerates every joint label."""

import itertools

import numpy as np
import pytest

import kerastricks as kt

pytestmark = pytest.mark.backend_independent


def joint_mutual_information(probs, batch):
    """BatchBALD of `batch` by enumeration: `H(y_batch) - mean_m sum_i H(p_m(y_i))`.

    `p(y_1..y_n) = mean_m prod_i p_m(y_i)` over all `C^n` label tuples.
    """
    members, _, classes = probs.shape
    joint_entropy = 0.0
    for labels in itertools.product(range(classes), repeat=len(batch)):
        p = np.mean(
            [np.prod([probs[m, i, y] for i, y in zip(batch, labels)]) for m in range(members)]
        )
        if p > 0:
            joint_entropy -= p * np.log(p)
    conditional = 0.0
    for i in batch:
        for m in range(members):
            row = probs[m, i][probs[m, i] > 0]
            conditional -= np.sum(row * np.log(row)) / members
    return joint_entropy - conditional


def greedy_reference(probs, k):
    chosen = []
    for _ in range(k):
        rest = [i for i in range(probs.shape[1]) if i not in chosen]
        scores = [joint_mutual_information(probs, chosen + [i]) for i in rest]
        chosen.append(rest[int(np.argmax(scores))])
    return chosen


def random_members(seed, members=5, pool=9, classes=3):
    rng = np.random.default_rng(seed)
    logits = rng.normal(0.0, 2.0, (members, pool, classes))
    # Two pairs of near copies: greedy top-BALD picks would waste a label on each.
    logits[:, 1] = logits[:, 0] + rng.normal(0.0, 0.05, (members, classes))
    logits[:, 4] = logits[:, 3] + rng.normal(0.0, 0.05, (members, classes))
    probs = np.exp(logits)
    return probs / probs.sum(axis=-1, keepdims=True)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("classes", [2, 3])
def test_exact_selection_matches_brute_force_enumeration(seed, classes):
    probs = random_members(seed, classes=classes)
    expected = greedy_reference(probs, 4)  # C^4 <= 81 label tuples: enumerated exactly
    np.testing.assert_array_equal(kt.active.batch_bald(probs, 4), expected)


def test_first_pick_is_the_top_bald_sample():
    probs = random_members(3)
    # Expected: BALD's closed form, H(mean) - mean H, computed here.
    mean = probs.mean(axis=0)
    bald = -(mean * np.log(mean)).sum(-1) + (probs * np.log(probs)).sum(-1).mean(0)
    assert kt.active.batch_bald(probs, 1)[0] == np.argmax(bald)


def test_sampled_joint_entropy_agrees_with_the_exact_selection():
    probs = random_members(15, members=6, pool=8, classes=3)
    expected = greedy_reference(probs, 3)
    # With at most 3 configurations computed exactly, steps 2 and 3 are sampled. 20000
    # configurations give each joint entropy a standard error of about 1.5 / sqrt(20000)
    # = 0.01 nats (per-configuration terms spread over ~1.5 nats), and less for the
    # difference of two candidates, which are scored on the same configurations; the data
    # (seed 15) keep the best and second-best candidates at least 0.02 nats apart.
    gaps = []
    for step in range(1, 3):
        rest = [i for i in range(8) if i not in expected[:step]]
        scores = sorted(joint_mutual_information(probs, expected[:step] + [i]) for i in rest)
        gaps.append(scores[-1] - scores[-2])
    assert min(gaps) > 0.02
    picked = kt.active.batch_bald(probs, 3, max_configurations=3, num_samples=20000, seed=0)
    np.testing.assert_array_equal(picked, expected)


def test_bad_arguments_raise():
    probs = random_members(5)
    with pytest.raises(ValueError, match="`k` must be >= 1 and <= 9"):
        kt.active.batch_bald(probs, 10)
    with pytest.raises(ValueError, match="must have rank 3"):
        kt.active.batch_bald(probs[0], 2)
    with pytest.raises(ValueError, match="did you pass logits"):
        kt.active.batch_bald(probs * 3.0, 2)
