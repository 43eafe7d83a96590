"""BatchBALD: a batch of queries that is jointly informative, not just individually."""

import numpy as np

from kerastricks._checks import check_int
from kerastricks.active._probabilities import as_probabilities, entropy_of, member_mean

__all__ = ["batch_bald"]

_BLOCK = 256  # candidates scored at once: bounds the [block, K, C] joint table


def batch_bald(
    member_probs,
    k: int,
    max_configurations: int = 4096,
    num_samples: int = 1000,
    seed=None,
) -> np.ndarray:
    """Greedily picks `k` pool samples that maximise the BatchBALD score of the batch.

    BALD scores each sample alone, so a batch of its top scores is often a batch of near
    copies. BatchBALD scores the batch: the mutual information between the joint labels
    and the model parameters,
    `a(x_1..x_n) = H(y_1..y_n) - E_w[sum_i H(y_i | w)]`, with the members as equally
    weighted samples of `w`, so `p(y_1..y_n) = mean_m prod_i p_m(y_i)`. It is grown
    greedily (a `1 - 1/e` approximation, the score being submodular): at each step the
    sample that most increases `a` joins the batch. The first pick is BALD's top sample.

    The joint entropy is exact while the batch's label configurations (`C^n` for `n`
    chosen samples) number at most `max_configurations`; beyond, it is estimated from
    `num_samples` configurations drawn from `p(y_1..y_n)` (a member, then a label for each
    chosen sample from that member), as in the paper.

    Reference:
        Kirsch, van Amersfoort & Gal, "BatchBALD: Efficient and Diverse Batch Acquisition
        for Deep Bayesian Active Learning" (NeurIPS 2019).

    Args:
        member_probs: member probabilities `[M, N, C]` (MC dropout samples or ensemble
            members), members first.
        k: the batch size, at most `N`.
        max_configurations: the largest number of joint label configurations computed
            exactly. Defaults to `4096`.
        num_samples: sampled configurations once exact enumeration is too large.
            Defaults to `1000`.
        seed: seed of the sampling. Defaults to `None`.

    Returns:
        An int64 array `[k]` of pool indices, in the order they were picked.

    Raises:
        TypeError, ValueError: bad probabilities (as `kt.active.bald`), `k` out of range.

    Example:

    >>> import numpy as np
    >>> import kerastricks as kt
    >>> sure, unsure = [0.9, 0.1], [0.1, 0.9]
    >>> copy = [sure, sure, unsure, unsure]           # samples 0 and 1: one pattern
    >>> other = [[0.8, 0.2], [0.2, 0.8], [0.8, 0.2], [0.2, 0.8]]  # sample 2: another
    >>> members = np.transpose(np.array([copy, copy, other]), (1, 0, 2))  # [M=4, N=3, C=2]
    >>> kt.active.bald(members).round(3)              # BALD would take 0 and 1
    array([0.368, 0.368, 0.193])
    >>> kt.active.batch_bald(members, 2).tolist()     # 1 repeats 0: BatchBALD takes 2
    [0, 2]
    """
    probs = as_probabilities("member_probs", member_probs, 3, "[M, N, C], members first")
    probs = probs.astype(np.float64)
    members, pool, classes = probs.shape
    k = check_int("k", k, minimum=1, maximum=pool)
    max_configurations = check_int("max_configurations", max_configurations, minimum=1)
    num_samples = check_int("num_samples", num_samples, minimum=1)
    rng = np.random.default_rng(seed)
    # E_w[H(y_i | w)] of every sample: the part of the score that adds up over the batch.
    conditional = member_mean(entropy_of(probs))  # [N]
    joint = np.ones((members, 1))  # P_m(configuration) of the chosen samples: [M, K]
    sampled = None  # the member behind each sampled configuration, once sampling
    chosen = []
    available = np.ones(pool, bool)
    for _ in range(k):
        if sampled is None and joint.shape[1] * classes > max_configurations and chosen:
            joint, sampled = _draw(joint, num_samples, rng)
        gain = np.full(pool, -np.inf)
        candidates = np.flatnonzero(available)
        for start in range(0, len(candidates), _BLOCK):
            block = candidates[start : start + _BLOCK]
            gain[block] = _joint_entropy(joint, probs[:, block], sampled is not None)
        gain[candidates] -= conditional[candidates]
        best = int(np.argmax(gain))
        chosen.append(best)
        available[best] = False
        if sampled is None:
            joint = (joint[:, :, None] * probs[:, best, None, :]).reshape(members, -1)
        else:
            labels = _sample_labels(probs[sampled, best], rng)  # one label per configuration
            joint = joint * probs[:, best, labels]
    return np.asarray(chosen, dtype=np.int64)


def _joint_entropy(joint, candidates, sampled):
    """`H(y_chosen, y_i)` for each candidate `i`; `joint` is `[M, K]`, `candidates`
    `[M, B, C]`. Exact: the sum over all `K` configurations. Sampled: the importance
    estimate `-mean_s sum_c p(c | s) log p(s, c)` over `K` sampled configurations `s`."""
    members = joint.shape[0]
    table = np.einsum("mk,mbc->bkc", joint, candidates) / members  # p(s, c)
    logs = np.log(np.maximum(table, np.finfo(table.dtype).tiny))
    if not sampled:
        return -np.einsum("bkc,bkc->b", table, logs)
    marginal = joint.mean(axis=0)  # p(s)
    weights = table / np.maximum(marginal, np.finfo(table.dtype).tiny)[None, :, None]
    return -np.einsum("bkc,bkc->b", weights, logs) / joint.shape[1]


def _draw(joint, num_samples, rng):
    """Samples configurations of the chosen samples from the exact `[M, K]` table."""
    marginal = joint.mean(axis=0)
    configurations = rng.choice(joint.shape[1], size=num_samples, p=marginal / marginal.sum())
    # The member behind each configuration: drawn from p(m | configuration).
    posterior = joint[:, configurations]
    posterior = posterior / posterior.sum(axis=0, keepdims=True)
    cumulative = np.cumsum(posterior, axis=0)
    sampled = (rng.random(num_samples)[None, :] > cumulative).sum(axis=0)
    return joint[:, configurations], np.minimum(sampled, joint.shape[0] - 1)  # rounding


def _sample_labels(rows, rng):
    """One label per row of probabilities `[S, C]`."""
    cumulative = np.cumsum(rows, axis=-1)
    draws = rng.random(len(rows))[:, None] * cumulative[:, -1:]
    return np.minimum((draws > cumulative).sum(axis=-1), rows.shape[-1] - 1)
