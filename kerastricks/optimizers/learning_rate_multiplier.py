"""Per-layer learning rates for any Keras 3 optimizer."""

import re

import keras

from kerastricks._checks import fail
from kerastricks._registry import register
from kerastricks.optimizers._inner_optimizer import base_rate, make_inner
from kerastricks.optimizers._variable_groups import VariableGroups
from kerastricks.optimizers.multiplier_keys import (
    matching_keys,
    raise_unmatched,
    validate_multipliers,
)
from kerastricks.transfer.freezing import trainable_if_unfrozen

__all__ = ["LearningRateMultiplier"]


@register
class LearningRateMultiplier(keras.optimizers.Optimizer):
    """Wraps an optimizer so that each layer trains with its own learning rate.

    Every variable is updated by the wrapped optimizer's own rule with the learning rate
    `learning_rate * multiplier`, where the multiplier is looked up from `lr_multiplier`
    by the variable's path. The multiplier scales the step, not the gradient, so it is
    exact for adaptive optimizers (Adam, AdamW, RMSprop, Lion...) as well as SGD, and it
    scales decoupled weight decay too. A multiplier of 0 skips the variable: it is never
    updated and gets no optimizer state.

    How: the variables are split into groups of equal multiplier, and each group is
    updated by its own copy of the wrapped optimizer (built from its config) whose
    learning rate is the wrapper's times the multiplier, read at every step, so
    `LearningRateScheduler`, schedules and `optimizer.learning_rate = ...` drive all
    groups. Only public optimizer APIs are used, so loss scaling, `tf.distribute`, XLA,
    gradient accumulation and EMA work as the wrapped optimizer does them;
    `global_clipnorm` is applied by the wrapper over all groups. Calling `build` again with
    newly unfrozen variables adds them as new groups with fresh state, while the others
    keep theirs (`GradualUnfreezing` does this), and `.keras` files keep every group's
    state, also when some layers are still frozen at save time.

    Keys of `lr_multiplier`:

    - a string is a layer name, or a run of whole segments of a variable path
      (`"dense_1"`, `"backbone/dense_1"`, `"dense_1/kernel"`); it matches every variable
      whose `variable.path` contains it, so a Sequential or subclassed sub-model's name
      covers its nested layers. A *functional* sub-model's layers are built outside its
      name scope and their paths do not carry its name: name its layers, use a regular
      expression, or expand the names with `kt.optimizers.expand_multipliers(model, ...)`.
    - a compiled regular expression (`re.compile(r"block[12]_")`) is searched in the path.

    When several keys match a variable the most specific wins: the match that ends deepest
    in the path, then the longest match. Variables that no key matches get 1.0. A key that
    matches none of the optimizer's variables raises a `ValueError` at the first training
    step: a typo must not silently train everything at full rate. Frozen layers
    (`trainable=False`) give the optimizer no variables, so a key naming only frozen
    layers is reported too, unless `GradualUnfreezing` hands their variables over first.

    Reference:
        Howard & Ruder, "Universal Language Model Fine-tuning for Text Classification"
        (ACL 2018) for discriminative learning rates; Yosinski et al., "How transferable
        are features in deep neural networks?" (NeurIPS 2014) for fine-tuning transferred
        layers. The API mirrors `LearningRateMultiplier` of keras-lr-multiplier (Keras 2).

    Args:
        optimizer: the optimizer to wrap: a Keras optimizer class (built with
            `optimizer_kwargs`), a string name such as `"adam"`, or an unbuilt instance
            (its config is the template of every group, and its learning rate becomes
            the wrapper's `learning_rate`).
        lr_multiplier: dict from keys (see above) to finite multipliers `>= 0`. Defaults
            to `None` (every multiplier 1.0).
        name: the wrapper's name. Defaults to `"learning_rate_multiplier"`.
        generations: the variable paths of the groups added after the first build, as
            `get_config` records them for a reloaded model. Leave it unset.
        **optimizer_kwargs: arguments of the wrapped optimizer's constructor, such as
            `learning_rate`, `momentum`, `weight_decay` (`lr` is accepted as an alias of
            `learning_rate`, as in the Keras 2 API). Not allowed with an instance.

    Raises:
        TypeError: `optimizer` is not an optimizer, class or name; `optimizer_kwargs` are
            given with an instance; a key is neither a string nor a compiled pattern.
        ValueError: a misspelt optimizer argument; a multiplier is negative or not
            finite; at the first step, a key matches no variable.

    Example:

    >>> import keras
    >>> import kerastricks as kt
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, name="dense_1"),
    ...                           keras.layers.Dense(2, name="dense_2")], name="net")
    >>> optimizer = kt.optimizers.LearningRateMultiplier(
    ...     keras.optimizers.SGD, lr_multiplier={"dense_1": 0.5, "dense_2": 0.4},
    ...     learning_rate=0.001, momentum=0.9)
    >>> model.compile(optimizer=optimizer, loss="mse")
    >>> optimizer.build(model.trainable_variables)
    >>> rates = optimizer.effective_learning_rates(model)
    >>> round(rates["net/dense_1/kernel"], 6), round(rates["net/dense_2/bias"], 6)
    (0.0005, 0.0004)
    """

    def __init__(
        self, optimizer, lr_multiplier=None, name=None, generations=None, **optimizer_kwargs
    ):
        inner = make_inner(optimizer, optimizer_kwargs)
        super().__init__(learning_rate=base_rate(inner), name=name or "learning_rate_multiplier")
        self.inner_optimizer = inner
        self.lr_multiplier = validate_multipliers(lr_multiplier)
        self._groups = VariableGroups(inner, self._group_learning_rate, generations or ())
        self._keys_checked = False

    # -- the mechanism -------------------------------------------------------------------

    def _group_learning_rate(self, multiplier):
        """The learning rate of a group: the wrapper's, read at every step, times its factor."""
        if multiplier == 1.0:
            return lambda: self.learning_rate
        return lambda: self.learning_rate * multiplier

    def _multiplier(self, path):
        keys = matching_keys(self.lr_multiplier, path)
        return self.lr_multiplier[keys[-1]] if keys else 1.0

    def build(self, var_list):
        """Builds the optimizer on `var_list`, or adds the variables it does not hold yet.

        Keras calls it once with the model's trainable variables. Call it again, inside the
        distribution strategy's scope, with the variables of layers you unfreeze during
        training (`GradualUnfreezing` does): they become a new generation of groups with
        fresh optimizer state, while the variables already held keep theirs.
        """
        self._groups.add(list(var_list), self._multiplier)
        self._groups.build_pending()
        if not self.built:
            # In the order received (the model's): Keras's JAX trainer passes the values
            # of `model.trainable_variables` to `stateless_apply` in that order.
            super().build(self._groups.in_order)

    def apply(self, grads, trainable_variables=None):
        if trainable_variables is None:  # `stateless_apply` (JAX): the variables built with
            trainable_variables = self._groups.in_order
        trainable_variables = list(trainable_variables)
        if not self.built:
            self.build(trainable_variables)
        self._check_keys()
        grads = list(grads)
        if self.inner_optimizer.global_clipnorm is not None:
            grads = _clip_by_global_norm(grads, self.inner_optimizer.global_clipnorm)
        batches = {}
        for grad, variable in zip(grads, trainable_variables, strict=True):
            key = self._groups.key_of(variable)
            if key is None:
                _raise_unknown(variable)
            if key[1] != 0.0:
                batches.setdefault(key, ([], []))
                batches[key][0].append(grad)
                batches[key][1].append(variable)
        for key, (group_grads, group_variables) in batches.items():
            self._groups.optimizers[key].apply(group_grads, group_variables)
        self.iterations.assign_add(1)

    def _check_keys(self):
        if not self._keys_checked:
            self._raise_for_unmatched(self._groups.variables)

    def check_keys(self, model) -> None:
        """Checks every key against all the variables `model` can train, frozen ones too.

        By default a key that matches none of the optimizer's variables fails the first
        training step, which also catches keys of frozen layers. Call this (as
        `GradualUnfreezing` does) when keys name layers that stay frozen on purpose: only
        keys that match no variable of the model at all (typos) then raise.

        Args:
            model: the model the optimizer trains.

        Raises:
            ValueError: a key matches no variable of `model`.
        """
        self._raise_for_unmatched(trainable_if_unfrozen(model))
        self._keys_checked = True

    def _raise_for_unmatched(self, variables):
        used = {key for v in variables for key in matching_keys(self.lr_multiplier, v.path)}
        unused = [key for key in self.lr_multiplier if key not in used]
        if unused:
            raise_unmatched(unused, variables)

    def effective_learning_rates(self, model_or_variables=None) -> dict:
        """Returns `{variable.path: learning rate}` at the current step.

        Args:
            model_or_variables: a model (its trainable variables are listed) or a list of
                variables. Defaults to every variable the optimizer holds.

        Returns:
            A dict from variable path to the learning rate, as a Python float, with which
            the next step updates that variable (0.0 for skipped variables).
        """
        if model_or_variables is None:
            if not self.built:
                fail(
                    "The optimizer is not built yet: call `optimizer.build(model."
                    "trainable_variables)` or train one step first.",
                    "built",
                    False,
                )
            variables = self._groups.variables
        elif isinstance(model_or_variables, keras.layers.Layer):
            variables = model_or_variables.trainable_variables
        else:
            variables = list(model_or_variables)
        base = float(keras.ops.convert_to_numpy(self.learning_rate))
        return {v.path: base * self._multiplier(v.path) for v in variables}

    # -- state: the wrapper's step and rate, and every group's ----------------------------

    @property
    def variables(self):
        own = keras.optimizers.Optimizer.variables.fget(self)
        return own + [v for o in self._groups.built_optimizers() for v in o.variables]

    def scale_loss(self, loss):
        return self.inner_optimizer.scale_loss(loss)

    def finalize_variable_values(self, var_list):
        held = {id(v) for v in var_list}
        for key, optimizer in self._groups.optimizers.items():
            members = [v for v in self._groups.members[key] if id(v) in held]
            if members:
                optimizer.finalize_variable_values(members)

    def save_own_variables(self, store):
        for index, variable in enumerate(keras.optimizers.Optimizer.variables.fget(self)):
            store[str(index)] = keras.ops.convert_to_numpy(variable)
        self._groups.save(store)

    def load_own_variables(self, store):
        for index, variable in enumerate(keras.optimizers.Optimizer.variables.fget(self)):
            if str(index) in store.keys():
                variable.assign(store[str(index)])
        self._groups.load(store)

    # -- serialization -------------------------------------------------------------------

    def get_config(self):
        return {
            "name": self.name,
            "optimizer": keras.saving.serialize_keras_object(self.inner_optimizer),
            "lr_multiplier": [
                {
                    "key": key.pattern if isinstance(key, re.Pattern) else key,
                    "regex": isinstance(key, re.Pattern),
                    "multiplier": value,
                }
                for key, value in self.lr_multiplier.items()
            ],
            "generations": [list(paths) for paths in self._groups.generations[1:]],
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        inner = keras.saving.deserialize_keras_object(
            config.pop("optimizer"), custom_objects=custom_objects
        )
        entries = config.pop("lr_multiplier") or []
        lr_multiplier = {
            re.compile(entry["key"]) if entry["regex"] else entry["key"]: entry["multiplier"]
            for entry in entries
        }
        return cls(
            inner,
            lr_multiplier=lr_multiplier,
            name=config.get("name"),
            generations=config.get("generations"),
        )


def _raise_unknown(variable):
    fail(
        "The optimizer was not built with this variable. After making layers trainable "
        "during training, add their variables with `optimizer.build(variables)` inside the "
        "strategy's scope and re-trace the step (`model.make_train_function(force=True)`); "
        "`kt.callbacks.GradualUnfreezing` does both.",
        "variable",
        variable.path,
    )


def _clip_by_global_norm(grads, clip_norm):
    """Scales all gradients by `clip_norm / max(global norm, clip_norm)`, as Keras does."""
    present = [g for g in grads if g is not None]
    norm = keras.ops.sqrt(sum(keras.ops.sum(keras.ops.square(g)) for g in present))
    scale = clip_norm / keras.ops.maximum(norm, clip_norm)
    return [None if g is None else g * keras.ops.cast(scale, g.dtype) for g in grads]
