"""Freezing and unfreezing layers for transfer learning, batch normalization done right."""

import warnings

import keras

from kerastricks.transfer.layer_tree import resolve_position, walk_layers

__all__ = ["freeze", "unfreeze"]


def freeze(model, until=None) -> list:
    """Freezes the layers of `model` before `until`; `until` itself stays trainable.

    With very little data, train only the last layer: `freeze(model, until="head")`.
    A frozen `BatchNormalization` layer runs in inference mode (Keras 3 uses the moving
    statistics whenever `trainable` is `False`), so its statistics are not updated.
    Changing `trainable` after `compile` needs a new `compile` (or, inside `fit`,
    `GradualUnfreezing`); a warning says so.

    Args:
        model: a Keras model.
        until: the name or index of the first top-level layer that stays trainable, or
            `None` to freeze every layer. Defaults to `None`.

    Returns:
        The names of the layers that were frozen.

    Raises:
        TypeError: `model` is not a Keras model; `until` is neither a name nor an index.
        ValueError: `until` names no top-level layer or is out of range.

    Example:

    >>> import keras
    >>> import kerastricks as kt
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4, name="a"),
    ...                           keras.layers.Dense(4, name="b"),
    ...                           keras.layers.Dense(2, name="head")])
    >>> kt.transfer.freeze(model, until="head")
    ['a', 'b']
    >>> [layer.trainable for layer in model.layers]
    [False, False, True]
    """
    stop = len(model.layers) if until is None else resolve_position(model, until)
    frozen = []
    for layer in model.layers[:stop]:
        layer.trainable = False
        frozen.append(layer.name)
    _warn_if_compiled(model)
    return frozen


def unfreeze(model, start=None, batchnorm: bool = False) -> list:
    """Makes the layers of `model` from `start` onwards trainable, sub-models included.

    With some data, train the last layers and fine-tune the rest with a small learning
    rate (`kt.optimizers.LearningRateMultiplier`). `BatchNormalization` layers stay
    frozen, hence in inference mode with their moving statistics, unless
    `batchnorm=True`: re-estimating statistics on a small target set (and a small batch)
    is a classic way to wreck a pretrained network.

    Args:
        model: a Keras model.
        start: the name or index of the first top-level layer to unfreeze, or `None` for
            all. Defaults to `None`.
        batchnorm: also unfreeze `BatchNormalization` layers. Defaults to `False`.

    Returns:
        The names of the layers (at any depth) made trainable.

    Raises:
        TypeError: `model` is not a Keras model; `start` is neither a name nor an index.
        ValueError: `start` names no top-level layer or is out of range.

    Example:

    >>> import keras
    >>> import kerastricks as kt
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4, name="a"),
    ...                           keras.layers.BatchNormalization(name="bn"),
    ...                           keras.layers.Dense(2, name="head")])
    >>> _ = kt.transfer.freeze(model)
    >>> kt.transfer.unfreeze(model)
    ['a', 'head']
    >>> model.get_layer("bn").trainable
    False
    """
    first = 0 if start is None else resolve_position(model, start, "start")
    changed = []
    for layer in model.layers[first:]:
        changed += set_trainable(layer, batchnorm)
    _warn_if_compiled(model)
    return changed


def set_trainable(layer, batchnorm: bool) -> list:
    """Makes `layer` and everything below it trainable, except batch normalization."""
    if isinstance(layer, keras.layers.BatchNormalization) and not batchnorm:
        return []
    tree = [layer, *walk_layers(layer)]
    before = [sub.trainable for sub in tree]
    for sub in tree:  # each one: a model's setter does not reach every nested layer
        sub.trainable = True
    if not batchnorm:
        for sub in tree:
            if isinstance(sub, keras.layers.BatchNormalization):
                sub.trainable = False
    return [sub.name for sub, was in zip(tree, before) if sub.trainable and not was]


def trainable_if_unfrozen(layer, batchnorm: bool = True) -> list:
    """The variables `layer` would train once unfrozen by `set_trainable`, in layer order.

    The layer's `trainable` flags (and those below it) are left as they were. Statistics
    such as batch normalization's moving mean are never among them.
    """
    tree = [layer, *walk_layers(layer)]
    flags = [sub.trainable for sub in tree]
    set_trainable(layer, batchnorm)
    variables = list(layer.trainable_variables)
    for sub, flag in zip(tree, flags, strict=True):  # parents first: children restored after
        sub.trainable = flag
    return variables


def _warn_if_compiled(model):
    if getattr(model, "compiled", False):
        warnings.warn(
            "`trainable` changed after `compile`: call `model.compile(...)` again before "
            "`fit` (or use kt.callbacks.GradualUnfreezing during `fit`).",
            stacklevel=3,
        )
