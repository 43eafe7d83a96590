"""Unfreezing a pretrained network block by block during `fit`."""

import contextlib

import keras

from kerastricks._checks import check_int, fail
from kerastricks.callbacks._state import unscaled_optimizer
from kerastricks.optimizers.learning_rate_multiplier import LearningRateMultiplier
from kerastricks.transfer.freezing import set_trainable, trainable_if_unfrozen
from kerastricks.transfer.layer_tree import find_layer

__all__ = ["GradualUnfreezing"]


class GradualUnfreezing(keras.callbacks.Callback):
    """Unfreezes blocks of layers on an epoch schedule, keeping the optimizer's state.

    Block `i` of `blocks` becomes trainable at the start of epoch
    `start_epoch + i * every`, so list the blocks from the head towards the input, as
    ULMFiT does. `BatchNormalization` layers stay frozen (inference mode) unless
    `batchnorm=True`.

    Keras traces its train step with the trainable variables of the moment, and a Keras
    optimizer only updates the variables it was built with. So the model must be compiled
    with `kt.optimizers.LearningRateMultiplier` (with or without multipliers), which can
    take on variables during training. At the start of training the callback hands it the
    variables of every block, one block at a time: each block gets optimizer state of its
    own, which stays untouched while the block is frozen and starts from step 1 when it is
    unfrozen (as a fresh optimizer would), while the variables already training keep
    theirs. After each unfreezing it re-traces the train step
    (`make_train_function(force=True)`). The optimizer object is never replaced, so your
    handle on it stays valid, and a model saved between two unfreezings reloads with every
    block's state and resumes where it stopped (an epoch whose block is already trainable
    is not unfrozen twice). Give the blocks' layers multiplier keys with
    `layerwise_multipliers(..., include_frozen=True)`.

    Reference:
        Howard & Ruder, "Universal Language Model Fine-tuning for Text Classification"
        (ACL 2018), gradual unfreezing.

    Args:
        blocks: a list whose items are a layer name or a list of layer names (at any
            depth of the model), in the order they are to be unfrozen.
        start_epoch: the epoch (0-based) at which the first block is unfrozen.
            Defaults to 1.
        every: epochs between two unfreezings, at least 1. Defaults to 1.
        batchnorm: also unfreeze `BatchNormalization` layers. Defaults to `False`.
        verbose: print a line at each unfreezing. Defaults to 1.

    Attributes:
        events: `(epoch, [layer names])` for each unfreezing done.

    Raises:
        TypeError: `blocks` is not a list of names or lists of names; at the start of
            training, the model's optimizer is not a `LearningRateMultiplier`.
        ValueError: an empty block list, a negative `start_epoch`, `every < 1`; at the
            start of training, a name that is not a layer of the model.

    Example:

    >>> import keras, numpy as np
    >>> import kerastricks as kt
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4, name="a"),
    ...                           keras.layers.Dense(4, name="b"),
    ...                           keras.layers.Dense(1, name="head")])
    >>> _ = kt.transfer.freeze(model, until="head")
    >>> optimizer = kt.optimizers.LearningRateMultiplier(
    ...     "adam", kt.optimizers.layerwise_multipliers(model, 0.5, include_frozen=True))
    >>> model.compile(optimizer=optimizer, loss="mse")
    >>> schedule = kt.callbacks.GradualUnfreezing(["b", "a"], start_epoch=1, verbose=0)
    >>> x, y = np.ones((8, 4), "float32"), np.ones((8, 1), "float32")
    >>> _ = model.fit(x, y, epochs=3, verbose=0, callbacks=[schedule])
    >>> schedule.events
    [(1, ['b']), (2, ['a'])]
    >>> model.optimizer is optimizer
    True
    """

    def __init__(self, blocks, start_epoch: int = 1, every: int = 1, batchnorm=False, verbose=1):
        super().__init__()
        if not isinstance(blocks, list | tuple) or not blocks:
            fail("`blocks` must be a non-empty list of layer names.", "blocks", blocks, TypeError)
        self.blocks = [[block] if isinstance(block, str) else list(block) for block in blocks]
        for block in self.blocks:
            if not block or not all(isinstance(name, str) for name in block):
                fail(
                    "Each block must be a layer name or a list of them.", "block", block, TypeError
                )
        self.start_epoch = check_int("start_epoch", start_epoch, minimum=0)
        self.every = check_int("every", every, minimum=1)
        self.batchnorm = bool(batchnorm)
        self.verbose = verbose
        self.events = []

    def _due(self, epoch):
        """The blocks whose unfreezing epoch is `epoch` or earlier."""
        return [b for i, b in enumerate(self.blocks) if self.start_epoch + i * self.every <= epoch]

    def on_train_begin(self, logs=None):
        optimizer = _growable_optimizer(self.model.optimizer)
        layers = [[find_layer(self.model, name) for name in block] for block in self.blocks]
        optimizer.check_keys(self.model)  # keys of layers that stay frozen are fine
        with _strategy_scope(self.model):
            if not optimizer.built:
                optimizer.build(self.model.trainable_variables)
            for block in layers:  # one generation of optimizer state per block
                optimizer.build(
                    [v for layer in block for v in trainable_if_unfrozen(layer, self.batchnorm)]
                )
        self.model.make_train_function(force=True)

    def on_epoch_begin(self, epoch, logs=None):
        changed = {}
        for block in self._due(epoch):
            for name in block:
                if set_trainable(find_layer(self.model, name), self.batchnorm):
                    changed.setdefault(tuple(block), block)
        if not changed:
            return
        self.model.make_train_function(force=True)
        for block in changed.values():
            self.events.append((epoch, block))
            if self.verbose:
                count = len(self.model.trainable_variables)
                print(f"GradualUnfreezing: epoch {epoch + 1}: unfroze {block} ({count} trainable)")


def _growable_optimizer(optimizer):
    """The `LearningRateMultiplier` under Keras's loss scaling, or a `TypeError`."""
    optimizer = unscaled_optimizer(optimizer)
    if not isinstance(optimizer, LearningRateMultiplier):
        fail(
            "GradualUnfreezing needs an optimizer that can take on variables during "
            "training: compile with kt.optimizers.LearningRateMultiplier(your_optimizer) "
            "(multipliers are optional).",
            "optimizer",
            type(optimizer).__name__,
            TypeError,
        )
    return optimizer


def _strategy_scope(model):
    """The model's `tf.distribute` scope (TensorFlow backend), else a null context."""
    strategy = getattr(model, "distribute_strategy", None)
    return strategy.scope() if strategy is not None else contextlib.nullcontext()
