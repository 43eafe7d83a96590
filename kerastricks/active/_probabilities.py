"""Input checks and fast NumPy reductions shared by the acquisition functions.

Reductions over a short last axis (the classes) are slow in NumPy when written as
`array.sum(-1)` or `array.max(-1)`: NumPy then runs one tiny inner loop per row. The
helpers below loop over the classes instead (`C` vectorised passes over `N` values) or use
`np.einsum`, which is several times faster for the `C` of classification (2 to ~1000).
"""

import keras
import numpy as np
from keras import ops

from kerastricks._checks import check_rank, fail

__all__ = [
    "as_probabilities",
    "class_max",
    "class_sum",
    "entropy_of",
    "member_mean",
    "member_variance",
    "map_pool",
    "top_two",
]

_ROWS = 16384  # pool rows per block: the temporaries of a block stay in the CPU caches

_TOLERANCE = 1e-3  # how far above 1 a probability may round (softmax in float16)


def as_probabilities(name: str, value, ranks, layout: str) -> np.ndarray:
    """Returns `value` as a float32/float64 NumPy array of probabilities, or raises.

    Accepts NumPy arrays, nested lists and eager backend tensors. float16 and bfloat16 are
    computed in float32. Raises `TypeError` for symbolic tensors and non-float dtypes and
    `ValueError` for a wrong rank, fewer than 2 classes, or values outside `[0, 1]`.
    """
    if ops.is_tensor(value):
        value = ops.convert_to_numpy(value)
    elif isinstance(value, keras.KerasTensor):
        fail(
            f"`{name}` must be concrete probabilities (a NumPy array or an eager tensor), not "
            "a symbolic tensor; score the outputs of `model.predict`.",
            name,
            value,
            TypeError,
        )
    array = np.asarray(value)
    if array.dtype.name == "bfloat16" or array.dtype == np.float16:
        array = array.astype(np.float32)
    if not np.issubdtype(array.dtype, np.floating):
        fail(
            f"`{name}` must hold floating-point probabilities (float16, float32 or float64), "
            f"but its dtype is {array.dtype}; pass softmax outputs, or cast with "
            "`.astype('float32')`.",
            f"{name}.dtype",
            str(array.dtype),
            TypeError,
        )
    check_rank(name, array.shape, ranks, layout)
    if array.shape[-1] < 2:
        fail(
            f"`{name}` needs at least 2 classes on its last axis ({layout}); for one "
            "sigmoid output `p`, stack `[1 - p, p]`.",
            f"{name}.shape",
            array.shape,
        )
    if array.ndim == 3 and array.shape[0] == 0:
        fail(f"`{name}` needs at least one member ({layout}).", f"{name}.shape", array.shape)
    if array.size:
        low, high = array.min(), array.max()
        span = f"[{name}.min(), {name}.max()]", [float(low), float(high)]
        if not (np.isfinite(low) and np.isfinite(high)):
            fail(f"`{name}` must be finite; it contains NaN or infinity.", *span)
        if low < 0 or high > 1 + _TOLERANCE:
            fail(
                f"`{name}` must be probabilities in [0, 1]: did you pass logits? Apply a "
                "softmax first.",
                *span,
            )
    return array


def map_pool(kernel, array: np.ndarray) -> np.ndarray:
    """Applies `kernel` ([..., n, C] -> [n]) to blocks of pool rows; returns `[N]` scores.

    Blocks of `_ROWS` samples keep every temporary in cache and reuse freed memory, which
    makes the whole pool about three times faster to score than one pass of large arrays.
    """
    dtype = np.float64 if array.dtype == np.float64 else np.float32
    n = array.shape[-2]
    if n <= _ROWS:
        return np.asarray(kernel(array), dtype=dtype)
    scores = np.empty(n, dtype)
    for start in range(0, n, _ROWS):
        scores[start : start + _ROWS] = kernel(array[..., start : start + _ROWS, :])
    return scores


def member_mean(array: np.ndarray) -> np.ndarray:
    """Mean over the first (members) axis, one member slice at a time."""
    mean = array[0].copy()
    for member in array[1:]:
        mean += member
    mean *= 1.0 / len(array)
    return mean


def member_variance(array: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Population variance over the first axis, two-pass, reusing one slice buffer."""
    variance = np.zeros_like(mean)
    buffer = np.empty_like(mean)
    for member in array:
        np.subtract(member, mean, out=buffer)
        buffer *= buffer
        variance += buffer
    variance *= 1.0 / len(array)
    return variance


def class_sum(array: np.ndarray) -> np.ndarray:
    """Sum over the last axis."""
    return np.einsum("...c->...", array)


def class_max(array: np.ndarray) -> np.ndarray:
    """Maximum over the last axis."""
    result = array[..., 0].copy()
    for c in range(1, array.shape[-1]):
        np.maximum(result, array[..., c], out=result)
    return result


def top_two(array: np.ndarray):
    """The largest and second largest value over the last axis (equal when tied)."""
    first = array[..., 0].copy()
    second = np.full_like(first, -np.inf)
    for c in range(1, array.shape[-1]):
        column = array[..., c]
        np.maximum(second, np.minimum(first, column), out=second)
        np.maximum(first, column, out=first)
    return first, second


def entropy_of(probs: np.ndarray) -> np.ndarray:
    """`-sum p log p` over the last axis, natural log, with `0 log 0 = 0`."""
    terms = np.maximum(probs, np.finfo(probs.dtype).tiny)
    np.log(terms, out=terms)
    terms *= probs
    # `0.0 - x` turns the -0.0 of a one-hot row into 0.0.
    return 0.0 - class_sum(terms)
