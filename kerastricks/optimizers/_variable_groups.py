"""The bookkeeping of `LearningRateMultiplier`: which inner optimizer updates which variable.

Variables are split into groups, one per (generation, multiplier). A generation is one call
of `build`: the first holds the variables Keras builds the optimizer with, each later one
the variables added after unfreezing layers. Every group has its own copy of the wrapped
optimizer (its own slots and its own step counter, so Adam's bias correction starts when the
group starts training), driven by the wrapper's learning rate times the group's multiplier.

The table is a plain Python object on purpose: the wrapper writes and reads its state
through the public `save_own_variables` / `load_own_variables` hooks, keyed by group, so a
model saved with some layers still frozen reloads and resumes with every slot in place.
"""

import math

import keras

__all__ = ["VariableGroups"]


class VariableGroups:
    """Inner optimizers per (generation, multiplier) and the variables each one updates.

    Args:
        template: the wrapped optimizer; groups are built from its config.
        learning_rate: a function `multiplier -> callable learning rate`.
        planned: variable paths of generations 1, 2, ... recorded in a saved config, so that
            a reloaded optimizer puts every variable back into the generation it had
            (matched by `_same_path`).
    """

    def __init__(self, template, learning_rate, planned=()):
        self.template = template
        self.config = template.get_config()  # read eagerly: groups may be built in a trace
        self.config.pop("global_clipnorm", None)  # the wrapper clips over all groups
        self.learning_rate = learning_rate
        self.planned = [list(paths) for paths in planned]
        self.generations = []  # the variable paths of each generation, in build order
        self.optimizers = {}  # (generation, multiplier) -> optimizer
        self.members = {}  # (generation, multiplier) -> [variables]
        self.owner = {}  # id(variable) -> (generation, multiplier); multiplier 0 included
        self.skipped = []  # variables with multiplier 0: never updated, no slots
        self.stash = {}  # saved values of groups not built yet: store key -> array
        self.in_order = []  # every variable held, in the order `add` received them

    @property
    def variables(self) -> list:
        """Every variable held (multiplier 0 included), group by group."""
        return [v for key in sorted(self.members) for v in self.members[key]] + self.skipped

    def built_optimizers(self) -> list:
        """The groups' optimizers, ordered by (generation, multiplier)."""
        return [self.optimizers[key] for key in sorted(self.optimizers)]

    def add(self, variables, multiplier_of) -> list:
        """Places the unknown `variables`: by the saved plan, else in one new generation."""
        new = [v for v in _unique(variables) if id(v) not in self.owner]
        self.in_order.extend(new)
        fresh = max(len(self.generations), len(self.planned) + 1) if self.generations else 0
        for variable in new:
            generation = next(
                (
                    g
                    for g, paths in enumerate(self.planned, 1)
                    if any(_same_path(variable.path, path) for path in paths)
                ),
                fresh,
            )
            while len(self.generations) <= generation:
                self.generations.append([])
            self.generations[generation].append(variable.path)
            key = (generation, multiplier_of(variable.path))
            self.owner[id(variable)] = key
            if key[1] == 0.0:
                self.skipped.append(variable)
            else:
                self.members.setdefault(key, []).append(variable)
        return new

    def build_pending(self):
        """Creates and builds the optimizer of every group that has none yet."""
        for key, members in self.members.items():
            if key in self.optimizers:
                continue
            generation, multiplier = key
            config = dict(self.config)
            config["name"] = f"{self.template.name}_{generation}_{_label(multiplier)}"
            config["learning_rate"] = self.learning_rate(multiplier)
            optimizer = type(self.template).from_config(config)
            optimizer.build(members)
            self.optimizers[key] = optimizer
            self._restore(key, optimizer)

    def key_of(self, variable):
        return self.owner.get(id(variable))

    # -- state ---------------------------------------------------------------------------

    def save(self, store):
        for key, optimizer in self.optimizers.items():
            for index, variable in enumerate(optimizer.variables):
                store[_store_key(key, index)] = keras.ops.convert_to_numpy(variable)

    def load(self, store):
        """Assigns saved values to built groups; keeps the rest for groups built later."""
        self.stash = {name: store[name] for name in store.keys()}
        for key, optimizer in self.optimizers.items():
            self._restore(key, optimizer)

    def _restore(self, key, optimizer):
        values = [self.stash.get(_store_key(key, i)) for i in range(len(optimizer.variables))]
        if any(value is None for value in values):
            return
        shapes_match = all(
            tuple(value.shape) == tuple(variable.shape)
            for value, variable in zip(values, optimizer.variables, strict=True)
        )
        if not shapes_match:
            return
        for value, variable in zip(values, optimizer.variables, strict=True):
            variable.assign(value)
        for index in range(len(values)):
            self.stash.pop(_store_key(key, index))


def _same_path(a: str, b: str) -> bool:
    """Whether two paths name the same variable: one path's segments end the other's.

    A reloaded model may build its variables under a shorter name scope than the saved one
    (`net/dense/kernel` comes back as `dense/kernel`), so exact paths are not stable.
    """
    a, b = a.split("/"), b.split("/")
    short, long = (a, b) if len(a) <= len(b) else (b, a)
    return long[len(long) - len(short) :] == short


def _unique(variables):
    seen, result = set(), []
    for variable in variables:
        if id(variable) not in seen:
            seen.add(id(variable))
            result.append(variable)
    return result


def _label(multiplier) -> str:
    return f"{multiplier:g}".replace(".", "p").replace("-", "m").replace("+", "")


def _store_key(key, index) -> str:
    generation, multiplier = key
    exact = multiplier.hex() if math.isfinite(multiplier) else str(multiplier)
    return f"group_{generation}_{exact}_{index}"
