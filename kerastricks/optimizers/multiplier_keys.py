"""How `lr_multiplier` keys select variables: matching paths, and expanding layer names."""

import re

import keras

from kerastricks._checks import check_number, fail, shorten
from kerastricks.transfer.freezing import trainable_if_unfrozen

__all__ = ["expand_multipliers", "matching_keys", "owner_names"]


def matching_keys(lr_multiplier: dict, path: str) -> list:
    """Returns the keys of `lr_multiplier` matching `path`, the most specific last.

    A string key matches when its `/`-separated segments appear as a contiguous run of
    the path's segments; a compiled pattern matches when `pattern.search(path)` does.
    The match that ends deepest in the path is the most specific, then the longest
    match, then a string key over a pattern.
    """
    ranked = []
    for key in lr_multiplier:
        span = _deepest_span(key, path)
        if span is not None:
            ranked.append(((span[1], span[1] - span[0], isinstance(key, str)), key))
    ranked.sort(key=lambda item: item[0])
    return [key for _, key in ranked]


def owner_names(paths) -> list:
    """Lists, in order of first appearance, the layer names found in variable paths."""
    names = {}
    for path in paths:
        for segment in path.split("/")[:-1]:
            names.setdefault(segment, None)
    return list(names)


def expand_multipliers(model, lr_multiplier: dict) -> dict:
    """Rewrites layer-name keys as exact variable-path keys, following the layer tree.

    Use it when a key names a functional sub-model (whose name is not part of its layers'
    variable paths). Each layer name found in `model` (at any depth, sub-models included)
    is replaced by one exact-path key per variable of that layer; where names nest, the
    deepest layer's multiplier wins. Keys that name no layer (path runs, compiled
    patterns) are kept unchanged.

    Args:
        model: the Keras model whose layers the keys name.
        lr_multiplier: a dict as accepted by `LearningRateMultiplier`.

    Returns:
        A new dict for `LearningRateMultiplier(lr_multiplier=...)`.

    Raises:
        TypeError: `model` is not a Keras layer or model.

    Example:

    >>> import keras
    >>> import kerastricks as kt
    >>> inputs = keras.Input((4,))
    >>> backbone = keras.Model(inputs, keras.layers.Dense(3, name="features")(inputs),
    ...                        name="backbone")
    >>> x = keras.Input((4,))
    >>> model = keras.Model(x, keras.layers.Dense(2, name="head")(backbone(x)))
    >>> keys = kt.optimizers.expand_multipliers(model, {"backbone": 0.1})
    >>> sorted(key.pattern for key in keys)
    ['^features/bias$', '^features/kernel$']
    """
    if not isinstance(model, keras.layers.Layer):
        fail("`model` must be a Keras model or layer.", "model", model, TypeError)
    layers = {}
    _collect_layers(model, 0, layers)
    expanded, per_variable = {}, {}
    for key, value in lr_multiplier.items():
        if not (isinstance(key, str) and key in layers):
            expanded[key] = value
            continue
        depth, layer = layers[key]
        for variable in trainable_if_unfrozen(layer):  # never moving statistics
            previous = per_variable.get(variable.path)
            if previous is None or depth >= previous[0]:
                per_variable[variable.path] = (depth, value)
    for path, (_, value) in per_variable.items():
        expanded[re.compile("^" + re.escape(path) + "$")] = value
    return expanded


def _collect_layers(layer, depth, layers):
    for child in getattr(layer, "layers", []):
        layers.setdefault(child.name, (depth + 1, child))
        _collect_layers(child, depth + 1, layers)


def _deepest_span(key, path):
    if isinstance(key, re.Pattern):
        spans = [match.span() for match in key.finditer(path)]
        return max(spans, key=lambda span: (span[1], span[1] - span[0])) if spans else None
    segments, wanted = path.split("/"), key.split("/")
    best = None
    for start in range(len(segments) - len(wanted) + 1):
        if segments[start : start + len(wanted)] == wanted:
            begin = sum(len(s) + 1 for s in segments[:start])
            best = (begin, begin + len(key))
    return best


def validate_multipliers(lr_multiplier):
    if lr_multiplier is None:
        return {}
    if not isinstance(lr_multiplier, dict):
        fail(
            "`lr_multiplier` must be a dict from layer names or compiled regular expressions "
            "to multipliers.",
            "lr_multiplier",
            lr_multiplier,
            TypeError,
        )
    validated = {}
    for key, value in lr_multiplier.items():
        if not isinstance(key, str | re.Pattern) or key == "":
            fail(
                "Each `lr_multiplier` key must be a non-empty layer name (str) or a compiled "
                "regular expression (re.compile(...)).",
                "key",
                key,
                TypeError,
            )
        validated[key] = check_number(f"lr_multiplier[{key!r}]", value, minimum=0.0)
    return validated


def raise_unmatched(keys, variables):
    shown = [key.pattern if isinstance(key, re.Pattern) else key for key in keys]
    names = owner_names(variable.path for variable in variables)
    fail(
        f"These `lr_multiplier` keys match no trainable variable: {shorten(shown)}. Keys are "
        "layer names (or runs of path segments) or compiled regular expressions over "
        "`variable.path`. The layers owning the optimizer's variables are: "
        f"{shorten(names)}. A frozen "
        "layer (trainable=False) gives the optimizer no variables; a functional sub-model's "
        "name is not part of its layers' paths (use kt.optimizers.expand_multipliers).",
        "lr_multiplier",
        shorten(shown),
    )
