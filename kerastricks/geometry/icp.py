"""Rigid point-to-point ICP on batched point clouds, in `keras.ops`."""

from keras import ops

from kerastricks._checks import check_choice, check_int, check_number, check_rank, fail
from kerastricks.geometry._nearest import brute_force_nearest, build_grid, grid_nearest
from kerastricks.geometry._tensors import as_float, geometry_dtype

__all__ = ["icp"]

NEIGHBORS = ("auto", "grid", "brute_force")
# "auto" uses the grid from this many target points on (below, brute force is as fast).
GRID_FROM = 4096


def icp(
    source_points,
    target_points,
    iterations=20,
    num_samples=None,
    max_distance=None,
    initial_transform=None,
    neighbors="auto",
):
    """Aligns `source_points` to `target_points` with rigid point-to-point ICP.

    Each iteration moves the source points with the current transform, pairs every
    one with its nearest target point (see `neighbors`), and solves for the rigid transform that
    best maps the source points onto their partners in the least-squares sense
    (closed form, the Kabsch / Horn solution: the rotation is the unit quaternion of
    the top eigenvector of a 4x4 matrix built from the 3x3 cross-covariance, which is
    Kabsch's SVD optimum with the reflection fix, without an SVD). Pairs farther
    apart than `max_distance` are left out of the fit. The iteration count is fixed,
    so the function compiles with XLA.

    Nearest neighbours: `"brute_force"` is exact and scores all `N x M` pairs (about
    2 ns of CPU per pair, in blocks of 1M scores so memory stays bounded): an
    8k-to-8k cloud takes ~0.13 s of CPU per iteration. `"grid"` is linear in the
    number of points: the target cloud is hashed once into cubic cells of twice
    its mean point spacing, and each query reads the (at most 16) points of
    each of the 8 cells nearest to it, plus 64 evenly spaced target points as a
    fallback. It returns the exact nearest neighbour whenever that lies within
    half a cell (one mean spacing) and those cells are not overfull, else a near
    target point; at 8k points it is about as fast per iteration as a SciPy
    `cKDTree` query under XLA (`benchmarks/bench_geometry.py`), and it needs a static
    number of target points. `"auto"` takes the grid from 4096 target points on
    and brute force below (or when `M` is not static). ICP is not differentiable:
    both outputs carry no gradient (use `kt.losses.ICPAlignment` for a training
    signal).

    Reference:
        Besl & McKay, "A Method for Registration of 3-D Shapes" (PAMI 1992);
        Kabsch, "A solution for the best rotation to relate two sets of vectors"
        (1976); Horn, "Closed-form solution of absolute orientation using unit
        quaternions" (JOSA A 1987); used as a loss in Mahjourian, Wicke & Angelova (CVPR 2018).

    Convention:
        Points are rows `(x, y, z)`. `transform` maps source points onto target
        points, `transform @ [s, 1] ~= [t, 1]`, i.e. `t ~= R s + translation`, the
        same form as `pose_vec_to_matrix` (`matrix_to_pose_vec` reads it back).

    Args:
        source_points: `[B, N, 3]` clouds to move, any float dtype.
        target_points: `[B, M, 3]` clouds to align them to (`M` may differ from `N`).
        iterations: number of ICP iterations. Defaults to `20`.
        num_samples: if set and smaller than `N`, the iterations use only this many
            source points, evenly spaced in index order; the residuals are still
            computed for all `N`. Defaults to `None` (all points).
        max_distance: if set, correspondences farther apart than this (in the units
            of the points) are ignored by the fit. Defaults to `None`.
        initial_transform: optional `[B, 4, 4]` starting transform (such as the
            predicted ego-motion). Defaults to the identity.
        neighbors: nearest-neighbour search, `"auto"`, `"grid"` or `"brute_force"`
            (exact). Defaults to `"auto"`.

    Returns:
        `(transform, residuals)`: `[B, 4, 4]` transforms and `[B, N]` distances from
        each moved source point to its nearest target point, float32 (float64 if an
        input is float64).

    Raises:
        ValueError: bad shapes, `iterations < 0`, `num_samples < 3`,
            `max_distance <= 0`, an unknown `neighbors`.
        TypeError: `iterations` or `num_samples` is not an integer.

    Example:

    >>> import numpy as np
    >>> import kerastricks as kt
    >>> rng = np.random.default_rng(0)
    >>> source = rng.uniform(-1, 1, (1, 200, 3)).astype("float32")
    >>> true = np.asarray(kt.geometry.pose_vec_to_matrix(
    ...     np.array([[0.05, -0.02, 0.03, 0.04, -0.03, 0.05]], "float32")))
    >>> target = source @ true[:, :3, :3].transpose(0, 2, 1) + true[:, None, :3, 3]
    >>> transform, residuals = kt.geometry.icp(source, target, iterations=10)
    >>> float(np.abs(np.asarray(transform) - true).max()) < 1e-4
    True
    """
    transform, residual_vectors, _ = icp_correspondences(
        source_points,
        target_points,
        iterations,
        num_samples,
        max_distance,
        initial_transform,
        neighbors,
    )
    return transform, ops.sqrt(ops.sum(ops.square(residual_vectors), axis=-1))


def icp_correspondences(
    source_points,
    target_points,
    iterations=20,
    num_samples=None,
    max_distance=None,
    initial_transform=None,
    neighbors="auto",
):
    """`icp`, returning `(transform, residual_vectors [B, N, 3], inlier weights [B, N])`.

    `residual_vectors[b, n] = T @ s_n - t_c(n)` with `c(n)` the nearest target point
    of the moved source point; weights are 1 for pairs within `max_distance`.
    """
    iterations = check_int("iterations", iterations, minimum=0)
    check_choice("neighbors", neighbors, NEIGHBORS)
    if num_samples is not None:
        num_samples = check_int("num_samples", num_samples, minimum=3)
    if max_distance is not None:
        max_distance = check_number("max_distance", max_distance, minimum=0, min_inclusive=False)
    source = ops.stop_gradient(ops.convert_to_tensor(source_points))
    target = ops.stop_gradient(ops.convert_to_tensor(target_points))
    for name, points in (("source_points", source), ("target_points", target)):
        check_rank(name, points.shape, 3, "[B, N, 3]")
        if points.shape[-1] != 3:
            fail(f"`{name}` must have shape [B, N, 3].", f"{name}.shape", tuple(points.shape))
    dtype = geometry_dtype(source, target)
    source, target = as_float(source, dtype), as_float(target, dtype)

    # Work relative to the target centroid: smaller numbers, better-conditioned distances.
    centre = ops.mean(target, axis=1, keepdims=True)  # [B, 1, 3]
    source, target = source - centre, target - centre
    if initial_transform is None:
        batch = ops.shape(source)[0]
        rotation = ops.broadcast_to(ops.eye(3, dtype=dtype)[None], (batch, 3, 3))
        translation = ops.zeros_like(centre)
    else:
        initial = ops.stop_gradient(as_float(initial_transform, dtype))
        rotation = initial[:, :3, :3]
        # In centred coordinates: t_c = t + R c - c.
        translation = apply_rigid(centre, rotation, initial[:, None, :3, 3]) - centre

    samples = evenly_spaced(source, num_samples)
    nearest = _neighbour_search(target, neighbors)

    def step(_, state):
        rotation, translation = state
        moved = apply_rigid(samples, rotation, translation)
        index = nearest(moved)
        partners = ops.take_along_axis(target, index[..., None], axis=1)
        weights = _inlier_weights(moved - partners, max_distance, dtype)
        new_rotation, new_translation = _fit_rigid(samples, partners, weights)
        found = ops.sum(weights, axis=1)[:, None, None] > 0  # keep the old fit otherwise
        return (
            ops.where(found, new_rotation, rotation),
            ops.where(found, new_translation, translation),
        )

    if iterations:
        rotation, translation = ops.fori_loop(0, iterations, step, (rotation, translation))
    moved = apply_rigid(source, rotation, translation)
    index = nearest(moved)
    residual_vectors = moved - ops.take_along_axis(target, index[..., None], axis=1)
    weights = _inlier_weights(residual_vectors, max_distance, dtype)

    world_translation = translation + centre - apply_rigid(centre, rotation, 0.0)
    top = ops.concatenate([rotation, ops.transpose(world_translation, (0, 2, 1))], axis=2)
    bottom = ops.broadcast_to(
        ops.convert_to_tensor([[[0.0, 0.0, 0.0, 1.0]]], dtype=dtype), (ops.shape(top)[0], 1, 4)
    )
    return ops.concatenate([top, bottom], axis=1), residual_vectors, weights


def apply_rigid(points, rotation, translation):
    """`R p + t` for row points `[B, N, 3]`, `R` `[B, 3, 3]`, `t` `[B, 1, 3]`."""
    return ops.matmul(points, ops.transpose(rotation, (0, 2, 1))) + translation


def evenly_spaced(points, num_samples):
    """`num_samples` points `[B, n, 3]` at evenly spaced indices `i * N // n`; all if fewer."""
    count = points.shape[1]
    if num_samples is None or count is None or num_samples >= count:
        return points
    index = [(i * count) // num_samples for i in range(num_samples)]
    return ops.take(points, ops.convert_to_tensor(index, dtype="int32"), axis=1)


def _neighbour_search(target, neighbors):
    """`query [B, n, 3] -> index [B, n]` of the target point paired with each query point."""
    count = target.shape[1]
    if neighbors == "grid" and count is None:
        fail(
            "`neighbors='grid'` needs a static number of target points; use 'brute_force'.",
            "target_points.shape",
            tuple(target.shape),
        )
    if neighbors == "brute_force" or count is None or (neighbors == "auto" and count < GRID_FROM):
        return lambda query: brute_force_nearest(query, target)
    grid = build_grid(target)  # once: the target cloud does not move
    return lambda query: grid_nearest(query, target, grid)


def _inlier_weights(residual_vectors, max_distance, dtype):
    if max_distance is None:
        return ops.ones(ops.shape(residual_vectors)[:-1], dtype=dtype)
    squared = ops.sum(ops.square(residual_vectors), axis=-1)
    return ops.cast(squared <= max_distance**2, dtype)


def _fit_rigid(source, target, weights):
    """Weighted least-squares rigid fit `target ~ R source + t`: `R [B,3,3]`, `t [B,1,3]`.

    Horn's closed form: with the weighted cross-covariance `S` of the centred clouds,
    the best rotation is the unit quaternion of the largest eigenvalue of a symmetric
    4x4 matrix built from `S` (the same optimum as Kabsch's SVD with the reflection
    fix, always a proper rotation). The eigenvector comes from repeated squaring of
    the shifted, positive semi-definite matrix: a few tiny matmuls, where an XLA SVD
    takes seconds to compile.
    """
    w = weights[..., None]
    total = ops.maximum(ops.sum(w, axis=1, keepdims=True), 1e-12)
    source_mean = ops.sum(w * source, axis=1, keepdims=True) / total
    target_mean = ops.sum(w * target, axis=1, keepdims=True) / total
    s = ops.matmul(ops.transpose(w * (source - source_mean), (0, 2, 1)), target - target_mean)
    rotation = _quaternion_to_matrix(_largest_eigenvector(_horn_matrix(s)))
    translation = target_mean - apply_rigid(source_mean, rotation, 0.0)
    return rotation, translation


def _horn_matrix(s):
    """Horn's symmetric 4x4 matrix `N` of a 3x3 cross-covariance `S[i, j] = sum s_i t_j`."""
    xx, xy, xz = s[:, 0, 0], s[:, 0, 1], s[:, 0, 2]
    yx, yy, yz = s[:, 1, 0], s[:, 1, 1], s[:, 1, 2]
    zx, zy, zz = s[:, 2, 0], s[:, 2, 1], s[:, 2, 2]
    rows = [
        [xx + yy + zz, yz - zy, zx - xz, xy - yx],
        [yz - zy, xx - yy - zz, xy + yx, zx + xz],
        [zx - xz, xy + yx, yy - xx - zz, yz + zy],
        [xy - yx, zx + xz, yz + zy, zz - xx - yy],
    ]
    return ops.stack([ops.stack(row, axis=-1) for row in rows], axis=-2)


def _largest_eigenvector(matrix, squarings=24):
    """Unit eigenvector `[B, 4]` of the largest eigenvalue of symmetric `[B, 4, 4]` matrices.

    Shifts by the Frobenius norm (all eigenvalues become >= 0, the largest stays
    largest), squares `squarings` times with renormalisation, i.e. runs `2^24` power
    steps, and takes the longest column. Returns the identity quaternion when the
    matrix is 0 (no correspondences).
    """
    norm = ops.sqrt(ops.sum(ops.square(matrix), axis=(1, 2), keepdims=True))
    power = matrix + norm * ops.eye(4, dtype=matrix.dtype)

    def square(_, power):
        power = ops.matmul(power, power)
        return power / ops.maximum(ops.max(ops.abs(power), axis=(1, 2), keepdims=True), 1e-30)

    power = ops.fori_loop(0, squarings, square, power)
    lengths = ops.sum(ops.square(power), axis=1)  # [B, 4], squared length of each column
    column = ops.take_along_axis(power, ops.argmax(lengths, axis=-1)[:, None, None], axis=2)
    vector = column[..., 0]
    length = ops.sqrt(ops.max(lengths, axis=-1, keepdims=True))
    identity = ops.convert_to_tensor([1.0, 0.0, 0.0, 0.0], dtype=matrix.dtype)
    safe = length > 1e-20
    return ops.where(safe, vector / ops.where(safe, length, 1.0), identity)


def _quaternion_to_matrix(q):
    w, x, y, z = q[:, 0], q[:, 1], q[:, 2], q[:, 3]
    rows = [
        [w * w + x * x - y * y - z * z, 2 * (x * y - w * z), 2 * (x * z + w * y)],
        [2 * (y * x + w * z), w * w - x * x + y * y - z * z, 2 * (y * z - w * x)],
        [2 * (z * x - w * y), 2 * (z * y + w * x), w * w - x * x - y * y + z * z],
    ]
    return ops.stack([ops.stack(row, axis=-1) for row in rows], axis=-2)
