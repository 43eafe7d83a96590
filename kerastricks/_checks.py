"""Argument checks shared by every public object, so that error messages read alike.

Every message says what is wrong, what was expected, and ends with `Received: name=value`.
Library code raises through these helpers instead of `assert`.
"""

import math
from collections.abc import Iterable
from numbers import Integral, Real

__all__ = [
    "received",
    "fail",
    "check_type",
    "check_choice",
    "check_number",
    "check_int",
    "check_rank",
    "check_keys",
    "shorten",
]


def received(name: str, value) -> str:
    """Formats the closing part of an error message."""
    return f"Received: {name}={value!r}"


def shorten(items, limit: int = 8) -> str:
    """Formats a list for a message: the first `limit` items and a count of the rest."""
    items = list(items)
    if len(items) <= limit:
        return repr(items)
    return f"{items[:limit]!r}"[:-1] + f", ... and {len(items) - limit} more]"


def fail(message: str, name: str, value, error=ValueError):
    """Raises `error` with `message` followed by `Received: name=value`."""
    raise error(f"{message} {received(name, value)}")


def check_type(name: str, value, types, expected: str):
    """Raises `TypeError` unless `value` is an instance of `types`."""
    if not isinstance(value, types) or isinstance(value, bool) and bool not in _as_tuple(types):
        fail(f"`{name}` must be {expected}.", name, value, TypeError)
    return value


def check_choice(name: str, value, choices: Iterable):
    """Raises `ValueError` unless `value` is one of `choices`."""
    choices = tuple(choices)
    if value not in choices:
        listed = ", ".join(repr(c) for c in choices)
        fail(f"`{name}` must be one of {listed}.", name, value)
    return value


def check_number(
    name: str,
    value,
    minimum=None,
    maximum=None,
    min_inclusive: bool = True,
    max_inclusive: bool = True,
) -> float:
    """Checks that `value` is a finite real number within the given bounds; returns a float."""
    if isinstance(value, bool) or not isinstance(value, Real):
        fail(f"`{name}` must be a real number.", name, value, TypeError)
    value = float(value)
    if not math.isfinite(value):
        fail(f"`{name}` must be finite.", name, value)
    _check_bounds(name, value, minimum, maximum, min_inclusive, max_inclusive)
    return value


def check_int(name: str, value, minimum=None, maximum=None) -> int:
    """Checks that `value` is an integer within the given (inclusive) bounds; returns an int."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        fail(f"`{name}` must be an integer.", name, value, TypeError)
    value = int(value)
    _check_bounds(name, value, minimum, maximum, True, True)
    return value


def check_rank(name: str, shape, ranks, layout: str = ""):
    """Raises `ValueError` unless `len(shape)` is one of `ranks`; `layout` names the axes."""
    ranks = _as_tuple(ranks)
    if shape is None or len(shape) not in ranks:
        expected = " or ".join(str(r) for r in ranks)
        hint = f" ({layout})" if layout else ""
        fail(f"`{name}` must have rank {expected}{hint}.", f"{name}.shape", _shape(shape))
    return shape


def check_keys(name: str, mapping, expected, meaning: str = ""):
    """Raises `ValueError` unless the keys of `mapping` are exactly `expected`.

    The message lists the missing and the unknown keys; `meaning` says what the keys are
    (such as "one loss per output").
    """
    expected = sorted(expected)
    missing = sorted(set(expected) - set(mapping))
    unknown = sorted(set(mapping) - set(expected))
    if missing or unknown:
        what = f" ({meaning})" if meaning else ""
        fail(
            f"The keys of `{name}`{what} must be exactly {expected}; missing: {missing}, "
            f"unknown: {unknown}.",
            f"{name}.keys()",
            sorted(mapping),
        )
    return mapping


def _check_bounds(name, value, minimum, maximum, min_inclusive, max_inclusive):
    low_bad = minimum is not None and (value < minimum or (not min_inclusive and value == minimum))
    high_bad = maximum is not None and (value > maximum or (not max_inclusive and value == maximum))
    if low_bad or high_bad:
        low = "" if minimum is None else f"{'>=' if min_inclusive else '>'} {minimum}"
        high = "" if maximum is None else f"{'<=' if max_inclusive else '<'} {maximum}"
        fail(f"`{name}` must be {' and '.join(s for s in (low, high) if s)}.", name, value)


def _shape(shape):
    return None if shape is None else tuple(None if d is None else int(d) for d in shape)


def _as_tuple(value):
    return value if isinstance(value, tuple) else (value,)
