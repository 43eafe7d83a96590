"""kt.tracking.boundary_measure against a plain NumPy version of the DAVIS 2017 F measure
written here from its definition (pixel loops; no skimage, no SciPy)."""

import math

import numpy as np
import pytest

import kerastricks as kt

pytestmark = pytest.mark.backend_independent


def reference_boundary(mask):
    """DAVIS's seg2bmap, pixel by pixel: a pixel is on the boundary when its right, lower or
    lower-right neighbour exists (inside the image) and lies on the other side."""
    h, w = mask.shape
    edge = np.zeros((h, w), bool)
    for y in range(h):
        for x in range(w):
            for dy, dx in ((0, 1), (1, 0), (1, 1)):
                if y + dy < h and x + dx < w and mask[y, x] != mask[y + dy, x + dx]:
                    edge[y, x] = True
    return edge


def reference_f(truth, predicted, bound_th=0.008):
    truth, predicted = truth != 0, predicted != 0
    h, w = truth.shape
    radius = bound_th if bound_th >= 1 else math.ceil(bound_th * math.sqrt(h * h + w * w))
    a, b = reference_boundary(truth), reference_boundary(predicted)
    if not a.any() or not b.any():  # DAVIS: both empty -> P = R = 1; one empty -> F = 0
        return 1.0 if a.any() == b.any() else 0.0

    def matched(points, other):  # points of `points` within `radius` (Euclidean) of `other`
        ys, xs = np.nonzero(other)
        hits = 0
        for y, x in zip(*np.nonzero(points)):
            hits += bool(np.any((ys - y) ** 2 + (xs - x) ** 2 <= radius**2))
        return hits

    precision = matched(b, a) / b.sum()
    recall = matched(a, b) / a.sum()
    return 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)


def square(h=40, w=56, top=10, left=12, size=16):
    mask = np.zeros((h, w), np.uint8)
    mask[top : top + size, left : left + size] = 1
    return mask


# A 40x56 image: diagonal 68.8 px, so the DAVIS tolerance is ceil(0.55) = 1 px; at
# bound_th=0.03 it is ceil(2.06) = 3 px.
CASES = {
    "identical": (square(), square()),
    "shift one pixel right": (square(), np.roll(square(), 1, axis=1)),
    "shift one pixel down-right": (square(), np.roll(square(), (1, 1), axis=(0, 1))),
    "shift two pixels": (square(), np.roll(square(), 2, axis=0)),
    "shift five pixels": (square(), np.roll(square(), 5, axis=1)),
    "grown by one": (square(), square(top=9, left=11, size=18)),
    "thin line vs line one off": (
        np.pad(np.ones((1, 30), np.uint8), ((20, 19), (13, 13))),
        np.pad(np.ones((1, 30), np.uint8), ((21, 18), (13, 13))),
    ),
    "thin diagonal vs square": (np.pad(np.eye(30, dtype=np.uint8), ((5, 5), (13, 13))), square()),
    "touching the border": (square(top=0, left=0), square(top=0, left=1)),
    "random blobs": (
        (np.random.default_rng(0).random((40, 56)) > 0.7).astype(np.uint8),
        (np.random.default_rng(1).random((40, 56)) > 0.7).astype(np.uint8),
    ),
}


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("bound_th", [0.008, 0.03, 2])
def test_matches_the_numpy_definition(name, bound_th):
    truth, predicted = CASES[name]
    expected = reference_f(truth, predicted, bound_th)
    # Both count the same pixels and divide the same integers: they agree to rounding.
    assert kt.tracking.boundary_measure(truth, predicted, bound_th) == pytest.approx(
        expected, abs=1e-12
    )


def test_closed_forms():
    truth = square()
    assert kt.tracking.boundary_measure(truth, truth) == 1.0
    # Shifted by one pixel, every boundary pixel has a partner within the 1-px tolerance.
    assert kt.tracking.boundary_measure(truth, np.roll(truth, 1, axis=1)) == 1.0
    # Shifted far beyond the tolerance, with no overlap of the contours: F = 0.
    assert kt.tracking.boundary_measure(truth, np.roll(truth, 20, axis=1)) == 0.0
    # The tolerance counts: 3 px apart fails at 1 px (0.008) and passes at 3 px (0.03).
    three = np.roll(truth, 3, axis=0)
    assert kt.tracking.boundary_measure(truth, three, 0.03) == 1.0
    # At 1 px: the 17x17 contours (64 px) match along the overlapping 14 rows of both sides,
    # one row beyond (1 px away) and the two top-row pixels next to the sides: 32 of 64 on
    # each side, so P = R = F = 1/2.
    assert kt.tracking.boundary_measure(truth, three) == 0.5


def test_empty_masks_as_davis():
    empty, truth = np.zeros((40, 56), np.uint8), square()
    assert kt.tracking.boundary_measure(empty, empty) == 1.0
    assert kt.tracking.boundary_measure(truth, empty) == 0.0
    assert kt.tracking.boundary_measure(empty, truth) == 0.0
    # A mask filling the whole frame has no boundary either: it counts as empty.
    assert kt.tracking.boundary_measure(np.ones_like(truth), empty) == 1.0


def test_frames_and_errors():
    truth = np.stack([square(), square(), np.zeros((40, 56), np.uint8)])
    predicted = np.stack([square(), np.roll(square(), 20, axis=1), square()])
    scores = kt.tracking.boundary_measure(truth, predicted)
    assert scores.dtype == np.float64
    np.testing.assert_array_equal(scores, [1.0, 0.0, 0.0])
    with pytest.raises(
        ValueError, match=r"same shape.*Received: shapes=\(\(40, 56\), \(40, 55\)\)"
    ):
        kt.tracking.boundary_measure(square(), square()[:, :55])
    with pytest.raises(ValueError, match=r"same shape"):
        kt.tracking.boundary_measure(np.zeros(5), np.zeros(5))
    with pytest.raises(ValueError, match=r"bound_th.*Received: bound_th=0"):
        kt.tracking.boundary_measure(square(), square(), bound_th=0)
