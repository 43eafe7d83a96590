"""Deprecated aliases: old public names that keep working for one release (not public).

An alias warns with a `DeprecationWarning` that names its replacement, then does exactly what
the replacement does. Deprecated names stay in `tests/api_surface.json` until removed on purpose.
"""

import functools
import warnings

__all__ = ["deprecated_alias", "warn_deprecated"]


def warn_deprecated(
    old: str, new: str, stacklevel: int = 3, same: str = "which computes the same quantity"
):
    """Warns that `old` is deprecated in favour of `new` (both as users spell them)."""
    warnings.warn(
        f"`{old}` is deprecated and will be removed in the next release; use `{new}` instead, "
        f"{same}.",
        DeprecationWarning,
        stacklevel=stacklevel,
    )


def deprecated_alias(target, old: str, new: str):
    """A function calling `target` (a function or a class) after warning that `old` is
    deprecated in favour of `new`; its docstring is the target's, after a notice."""

    @functools.wraps(target)
    def alias(*args, **kwargs):
        warn_deprecated(old, new)
        return target(*args, **kwargs)

    alias.__doc__ = (
        f"Deprecated alias of `{new}` (same arguments, same result); warns with a "
        f"`DeprecationWarning`.\n\n{target.__doc__ or ''}"
    )
    alias.__name__ = alias.__qualname__ = old.rsplit(".", 1)[-1]
    alias.__wrapped__ = target
    return alias
