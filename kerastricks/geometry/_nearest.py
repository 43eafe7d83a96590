"""Nearest-neighbour search for ICP: exact brute force, and a hashed spatial grid (not public).

Both take batched clouds `[B, n, 3]` (queries) and `[B, M, 3]` (reference points) with a
static `M`, and return the index `[B, n]` of the chosen reference point of each query.

The grid is built once per reference cloud (`build_grid`) and queried many times
(`grid_nearest`, once per ICP iteration): linear in the number of points, where brute
force is `n x M`. Every call is fixed-shape `keras.ops`, so both compile with XLA.
"""

from keras import ops

# Elements of one block of scores [B, chunk, M] in the brute-force search (1M fits in
# cache better than 4M: 25% less CPU time on 8k-point clouds).
_BLOCK_ELEMENTS = 1 << 20
# Grid: points read per cell, evenly spaced reference points every query also scores
# (its fallback when its 8 cells are empty), sample size for the cell size.
CAPACITY = 16
_ANCHORS = 64
_SPACING_SAMPLES = 64
# Cell size = this many times the mean nearest-neighbour spacing of the reference cloud.
_CELL_SPACINGS = 2.0
# Score of an empty slot: above any real `|q - r|^2 - |q|^2`.
_EMPTY = 1e30
# Spatial hashing primes of Teschner et al., "Optimized Spatial Hashing for Collision
# Detection of Deformable Objects" (VMV 2003).
_PRIMES = (73856093, 19349663, 83492791)
_OFFSETS = [(i, j, k) for i in (0, 1) for j in (0, 1) for k in (0, 1)]
_LIMIT = 2.0**21  # cell indices of far points are clamped to it, to fit in int32


def brute_force_nearest(query, reference):
    """Index `[B, n]` of the nearest reference point of each query point (exact).

    `|q - r|^2 = |q|^2 - 2 q.r + |r|^2`, and `|q|^2` does not change the argmin, so
    the scores of a block are one matmul of `[q, 1]` with `[-2 r, |r|^2]`, then an
    argmin; blocks of query points keep the score matrix at `_BLOCK_ELEMENTS`.
    """
    query = _homogeneous(query)  # [B, n, 4]
    columns = ops.transpose(_score_table(reference), (0, 2, 1))
    count, references = query.shape[1], reference.shape[1]
    if None in (count, references):
        return ops.cast(ops.argmin(ops.matmul(query, columns), axis=-1), "int32")
    chunk = max(1, _BLOCK_ELEMENTS // references)
    indices = [
        ops.argmin(ops.matmul(query[:, start : start + chunk], columns), axis=-1)
        for start in range(0, count, chunk)
    ]
    return ops.cast(indices[0] if len(indices) == 1 else ops.concatenate(indices, 1), "int32")


def build_grid(reference):
    """Hashes the reference points `[B, M, 3]` into a grid of cubic cells, once per cloud.

    The cell size is `_CELL_SPACINGS` times the mean distance from `_SPACING_SAMPLES`
    evenly spaced reference points to their nearest other reference point (so a
    cell holds about one point of a cloud sampled from a volume, one or two of a
    surface). Cell `(i, j, k) = floor(p / size)` goes to bucket
    `(i P1 ^ j P2 ^ k P3) mod T`, `T` the power of two at least `M`, offset by
    `T` per batch element. The first `CAPACITY` points of every bucket are written
    into a dense `[B T, CAPACITY]` table (empty slots score `_EMPTY`), so that a
    query reads a bucket as one contiguous slice. Returns a tuple for `grid_nearest`.
    """
    count = reference.shape[1]
    if count is None:
        raise ValueError("The grid search needs a static number of reference points.")
    batch = ops.shape(reference)[0]
    size = _cell_size(reference)  # [B, 1, 1]
    buckets = 1 << max(1, (count - 1).bit_length())
    bucket = _bucket(_cells(reference, size), buckets) + _batch_offsets(batch, buckets)
    bucket = ops.reshape(bucket, (-1,))
    order = ops.cast(ops.argsort(bucket), "int32")
    sorted_bucket = ops.take(bucket, order)
    counts = ops.segment_sum(ops.ones_like(bucket), bucket, num_segments=batch * buckets)
    rank = ops.arange(ops.shape(order)[0], dtype="int32") - ops.take(
        ops.cumsum(counts) - counts, sorted_bucket
    )
    slots = batch * buckets * CAPACITY  # one more, the last, takes the overflow
    slot = ops.where(rank < CAPACITY, sorted_bucket * CAPACITY + rank, slots)[:, None]
    rows = ops.take(ops.reshape(_score_table(reference), (-1, 4)), order, axis=0)
    empty = ops.convert_to_tensor([[0.0, 0.0, 0.0, _EMPTY]], dtype=reference.dtype)
    table = ops.scatter_update(ops.tile(empty, (slots + 1, 1)), slot, rows)
    local = order % count  # index within its own cloud
    index = ops.scatter_update(ops.zeros((slots + 1,), "int32"), slot, local)
    anchors = _evenly_spaced_indices(count, _ANCHORS)
    anchor_columns = ops.transpose(ops.take(_score_table(reference), anchors, axis=1), (0, 2, 1))
    return size, buckets, table[:slots], index[:slots], anchors, anchor_columns


def grid_nearest(query, reference, grid):
    """Index `[B, n]` of the nearest reference point found in the 8 cells around each query.

    Reads the `CAPACITY` slots of each of the buckets of the 2x2x2 cells nearest the
    query, plus the `_ANCHORS` evenly spaced reference points, and returns the
    nearest of them. That is the exact nearest neighbour whenever it lies within half
    a cell of the query and none of those buckets holds more than `CAPACITY` points
    (hash collisions only add real candidates, so they never give a wrong answer,
    only fill buckets); otherwise a near one.
    """
    size, buckets, table, index, anchors, anchor_columns = grid
    batch, count = ops.shape(query)[0], query.shape[1]
    # The 2x2x2 block of cells nearest the query: its own cell and, along each axis, the
    # neighbour on the side of the nearer face. It holds the ball of radius size / 2.
    scaled = query / size
    first = ops.cast(ops.clip(ops.floor(scaled - 0.5), -_LIMIT, _LIMIT), "int32")
    cells = first[:, :, None, :] + ops.convert_to_tensor(_OFFSETS, "int32")  # [B, n, 8, 3]
    bucket = _bucket(cells, buckets) + _batch_offsets(batch, buckets)[..., None]  # [B, n, 8]
    table = ops.reshape(table, (-1, CAPACITY, 4))
    candidates = ops.take(table, ops.reshape(bucket, (-1,)), axis=0)  # [B n 27, C, 4]
    candidates = ops.reshape(candidates, (batch, count, -1, 4))
    homogeneous = _homogeneous(query)
    scores = ops.sum(candidates * homogeneous[:, :, None, :], axis=-1)  # [B, n, 27 C]
    best = ops.argmin(scores, axis=-1)
    best_score = ops.min(scores, axis=-1)
    slot = ops.take_along_axis(bucket, best[..., None] // CAPACITY, axis=-1)[..., 0]
    found = ops.take(index, slot * CAPACITY + ops.cast(best % CAPACITY, "int32"))
    anchor_scores = ops.matmul(homogeneous, anchor_columns)  # [B, n, A]
    fallback = ops.take(anchors, ops.argmin(anchor_scores, axis=-1))
    return ops.where(best_score <= ops.min(anchor_scores, axis=-1), found, fallback)


def _cell_size(reference):
    """`[B, 1, 1]` cell size from the mean nearest-other-point distance of a sample."""
    count = reference.shape[1]
    picked = _evenly_spaced_indices(count, _SPACING_SAMPLES)
    sample = ops.take(reference, picked, axis=1)  # [B, S, 3]
    columns = ops.transpose(_score_table(reference), (0, 2, 1))
    scores = ops.matmul(_homogeneous(sample), columns)  # |r|^2 - 2 s.r, [B, S, M]
    scores = scores + ops.sum(ops.square(sample), axis=-1, keepdims=True)
    itself = ops.one_hot(picked, count, dtype="bool")  # [S, M]
    scores = ops.where(itself[None], float("inf"), scores)
    spacing = ops.mean(ops.sqrt(ops.maximum(ops.min(scores, axis=-1), 0.0)), axis=1)
    # Floors: a cloud of duplicates (spacing 0) and cell indices that fit in int32.
    extent = ops.max(ops.abs(reference), axis=(1, 2))
    size = ops.maximum(_CELL_SPACINGS * spacing, ops.maximum(extent * 2.0**-20, 1e-30))
    return size[:, None, None]


def _cells(points, size):
    return ops.cast(ops.clip(ops.floor(points / size), -_LIMIT, _LIMIT), "int32")


def _bucket(cells, buckets):
    i, j, k = (cells[..., axis] * prime for axis, prime in enumerate(_PRIMES))
    return ops.bitwise_and(ops.bitwise_xor(ops.bitwise_xor(i, j), k), buckets - 1)


def _batch_offsets(batch, stride):
    """`[B, 1]` offsets `b * stride` (int32) that keep batch elements apart in flat tables."""
    return ops.arange(batch, dtype="int32")[:, None] * stride


def _homogeneous(points):
    return ops.concatenate([points, ops.ones_like(points[..., :1])], axis=-1)


def _score_table(reference):
    """`[-2 r, |r|^2]` `[B, M, 4]`: its dot product with `[q, 1]` is `|q - r|^2 - |q|^2`."""
    norms = ops.sum(ops.square(reference), axis=-1, keepdims=True)
    return ops.concatenate([-2.0 * reference, norms], axis=-1)


def _evenly_spaced_indices(count, number):
    number = min(number, count)
    return ops.convert_to_tensor([(i * count) // number for i in range(number)], dtype="int32")
