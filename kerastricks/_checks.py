"""Argument checks shared by every public object, so that error messages read alike.

Every message says what is wrong, what was expected, and ends with `Received: name=value`.
Library code raises through these helpers instead of `assert`.
"""

import math
from collections.abc import ItemsView, Iterable, Iterator, KeysView, ValuesView
from numbers import Integral, Real

__all__ = [
    "received",
    "fail",
    "check_type",
    "check_choice",
    "check_number",
    "check_int",
    "check_rank",
    "check_same_shape",
    "check_keys",
    "check_batch_sizes",
    "shorten",
]

#: How many items of a long list a message shows, and how many characters of a long value.
MAX_ITEMS = 8
MAX_CHARACTERS = 300


def shorten(value, limit: int = MAX_ITEMS) -> str:
    """The `repr` of `value`, cut to a readable length.

    A list, tuple, set or dict longer than `limit` shows its first `limit` entries and a
    count of the rest (`['a', 'b', ... and 44 more]`); a generator or dict view is listed first;
    any other `repr` longer than `MAX_CHARACTERS` is cut there, with its full length.
    """
    if isinstance(value, (Iterator, KeysView, ValuesView, ItemsView)):
        value = list(value)  # generators and dict views; never tensors or arrays
    max_items = limit
    if isinstance(value, (list, tuple, set, frozenset, dict)) and len(value) > max_items:
        rest = len(value) - max_items
        if isinstance(value, dict):
            items = [f"{k!r}: {shorten(v)}" for k, v in list(value.items())[:max_items]]
            return "{" + ", ".join(items) + f", ... and {rest} more}}"
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
        opening, closing = ("(", ")") if isinstance(value, tuple) else ("[", "]")
        shown = ", ".join(repr(item) for item in list(items)[:max_items])
        return f"{opening}{shown}, ... and {rest} more{closing}"
    text = repr(value)
    if len(text) > MAX_CHARACTERS:
        return f"{text[:MAX_CHARACTERS]}... ({len(text)} characters)"
    return text


def received(name: str, value) -> str:
    """Formats the closing part of an error message (long values shortened)."""
    return f"Received: {name}={shorten(value)}"


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
        listed = shorten(list(choices))[1:-1]
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


def check_same_shape(name: str, shape, like: str, like_shape, alternative: str = ""):
    """Raises `ValueError` unless `shape` has the rank of `like_shape` and the same size on
    every axis where both are known (`None`: unknown, matches any size). `alternative`
    ends the message with the other shape accepted, as ", or that shape with ...".
    """
    same = len(shape) == len(like_shape) and all(
        a is None or b is None or a == b for a, b in zip(_shape(shape), _shape(like_shape))
    )
    if not same:
        fail(
            f"`{name}` must have the shape of `{like}` {_shape(like_shape)}{alternative}.",
            f"{name}.shape",
            _shape(shape),
        )
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
            f"The keys of `{name}`{what} must be exactly {shorten(expected)}; missing: "
            f"{shorten(missing)}, unknown: {shorten(unknown)}.",
            f"{name}.keys()",
            sorted(mapping),
        )
    return mapping


def check_batch_sizes(**shapes):
    """Raises `ValueError` unless every statically known batch size (first axis) is one.

    Call as `check_batch_sizes(source_image=image.shape, target_depth=depth.shape)`.
    """
    known = {
        name: int(shape[0])
        for name, shape in shapes.items()
        if shape is not None and len(shape) and shape[0] is not None
    }
    if len(set(known.values())) > 1:
        listed = ", ".join(f"`{name}`" for name in known)
        fail(
            f"{listed} must have the same batch size (first axis); no broadcasting.",
            "batch sizes",
            known,
        )


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
