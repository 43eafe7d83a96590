"""Acquisition for dense predictions (segmentation): per-pixel scores reduced per image."""

import numpy as np

from kerastricks._checks import check_choice, fail
from kerastricks.active._probabilities import as_probabilities
from kerastricks.active.acquisition_registry import get_acquisition, needs_members

__all__ = ["dense_acquisition"]

REDUCTIONS = ("mean", "max", "sum", None)


def dense_acquisition(probs, acquisition="entropy", reduction="mean") -> np.ndarray:
    """Scores every pixel of a dense prediction, then reduces the scores of each image.

    Each pixel is scored as a sample of its own by an acquisition function of
    `kt.active` (`"entropy"`, `"margin"`, `"bald"`, ...; or a callable mapping `[M, P, C]`
    member probabilities to `[P]` scores), and the `H x W` scores of an image are reduced
    to one by `reduction`, as baal does for segmentation: the `mean` ranks images by
    average uncertainty, `max` by their most uncertain pixel, `sum` by total uncertainty
    (favouring large images when sizes differ).

    Reference:
        Atighehchian et al., "Bayesian active learning for production, a systematic study
        and a reusable library" (baal, ICML 2020 workshop); Gal, Islam & Ghahramani, "Deep
        Bayesian Active Learning with Image Data" (ICML 2017) for the per-pixel scores.

    Args:
        probs: per-pixel probabilities of one model `[N, H, W, C]`, or of `M` members
            (MC dropout samples, ensemble members), members first, `[M, N, H, W, C]`.
        acquisition: a name of `kt.active.get_acquisition` or a callable. Member
            disagreements (`"bald"`, `"variation_ratio"`, `"mean_std"`) need members.
            Defaults to `"entropy"`.
        reduction: `"mean"`, `"max"`, `"sum"`, or `None` for the per-pixel map.
            Defaults to `"mean"`.

    Returns:
        `[N]` scores (`[N, H, W]` with `reduction=None`), higher = ask first.

    Raises:
        ValueError: `probs` is not of rank 4 or 5 or not probabilities; a member
            disagreement without members; an unknown `reduction` or acquisition.
        TypeError: `probs` is not floating point; `acquisition` is neither a name nor a
            callable.

    Example:

    >>> import numpy as np
    >>> import kerastricks as kt
    >>> probs = np.full((2, 2, 2, 2), 0.5)   # two 2x2 images, two classes, all unsure
    >>> probs[1, 0] = [1.0, 0.0]             # image 1: its top row certain
    >>> kt.active.dense_acquisition(probs, "entropy", "mean").round(4)
    array([0.6931, 0.3466])
    >>> kt.active.dense_acquisition(probs, "entropy", "max").round(4)
    array([0.6931, 0.6931])
    """
    array = as_probabilities(
        "probs", probs, (4, 5), "[N, H, W, C] or [M, N, H, W, C], members first"
    )
    check_choice("reduction", reduction, REDUCTIONS)
    score = get_acquisition(acquisition)
    if array.ndim == 4:
        if needs_members(score):
            fail(
                f"`{acquisition}` measures disagreement between members: pass member "
                "probabilities [M, N, H, W, C].",
                "probs.shape",
                array.shape,
            )
        array = array[None]
    members, images, height, width, classes = array.shape
    pixels = array.reshape(members, images * height * width, classes)
    scores = np.asarray(score(pixels)).reshape(images, height, width)
    if reduction is None:
        return scores
    return getattr(np, reduction)(scores, axis=(1, 2))
