"""The settings of `ActiveLearner`, grouped: what to ask, how many labels, how to train."""

import dataclasses

from kerastricks._checks import check_choice, check_int, check_number, check_type
from kerastricks._deprecation import warn_deprecated

__all__ = ["Acquisition", "LabelPlan", "RoundTraining"]

DIVERSITY = (None, "kcenter", "representative")
_FIT_DEFAULTS = {"epochs": 10, "batch_size": 32, "verbose": 0}


@dataclasses.dataclass(frozen=True)
class Acquisition:
    """Which unlabeled samples an `ActiveLearner` asks about.

    Args:
        function: `"random"`, a name of `kt.active.get_acquisition`, or a callable mapping
            `[M, N, C]` member probabilities to `[N]` scores. Defaults to `"entropy"`.
        mc_samples: score with this many Monte Carlo dropout passes
            (`kt.active.mc_predict`) of a model with `kt.layers.MCDropout`. Defaults to
            `None` (one deterministic pass, or an ensemble's members).
        diversity: `None` (the top scores), `"kcenter"` (greedy k-center on the
            penultimate-layer embeddings among the `10 x query_size` top scores: the
            core-set method) or `"representative"` (`kt.active.representative_batch`).
            Defaults to `None`.

    Example:

    >>> import kerastricks as kt
    >>> kt.active.Acquisition("bald", mc_samples=20).mc_samples
    20
    """

    function: object = "entropy"
    mc_samples: int | None = None
    diversity: str | None = None

    def __post_init__(self):
        if self.function != "random" and not callable(self.function):
            from kerastricks.active.acquisition_registry import get_acquisition

            get_acquisition(self.function)  # raises for an unknown name
        if self.mc_samples is not None:
            _set(self, "mc_samples", check_int("mc_samples", self.mc_samples, minimum=1))
        check_choice("diversity", self.diversity, DIVERSITY)


@dataclasses.dataclass(frozen=True)
class LabelPlan:
    """How many labels an `ActiveLearner` buys, and when.

    Args:
        query_size: labels asked per round. Defaults to `10`.
        budget: the total number of labels to buy, including the initial ones.
            Defaults to `None` (no limit).
        initial_size: random labels bought before the first round. Defaults to
            `query_size`.
        seed: seed of the random draws (initial set, `"random"`), reproducible across
            restarts. Defaults to `0`.

    Example:

    >>> import kerastricks as kt
    >>> kt.active.LabelPlan(query_size=5, budget=50).initial_size
    5
    """

    query_size: int = 10
    budget: int | None = None
    initial_size: int | None = None
    seed: int = 0

    def __post_init__(self):
        _set(self, "query_size", check_int("query_size", self.query_size, minimum=1))
        if self.budget is not None:
            _set(self, "budget", check_int("budget", self.budget, minimum=1))
        initial = self.query_size if self.initial_size is None else self.initial_size
        _set(self, "initial_size", check_int("initial_size", initial, minimum=1))
        _set(self, "seed", check_int("seed", self.seed))


@dataclasses.dataclass(frozen=True)
class RoundTraining:
    """How an `ActiveLearner` trains each round's model.

    Args:
        fit_kwargs: arguments of `model.fit`. Defaults to `{"epochs": 10, "batch_size":
            32, "verbose": 0}`, updated with what is given.
        min_epoch_size: repeat the training set (whole copies) until an epoch holds at
            least this many samples, so the first rounds, with few labels, still take
            enough gradient steps. Defaults to `None` (no repetition).
        ceal_delta: CEAL (Wang et al. 2016): also train on the unlabeled samples whose
            predictive entropy (nats) is below `ceal_delta - ceal_decay * t` in round `t`,
            labeled with the model's prediction (never stored, never counted). `None`
            turns CEAL off. Defaults to `None`.
        ceal_decay: how much the CEAL threshold shrinks per round. Defaults to `0.0033`
            (the paper's `dr` for CACD, with `delta_0 = 0.05`).

    Example:

    >>> import kerastricks as kt
    >>> kt.active.RoundTraining({"epochs": 3}).fit_kwargs["epochs"]
    3
    """

    fit_kwargs: dict | None = None
    min_epoch_size: int | None = None
    ceal_delta: float | None = None
    ceal_decay: float = 0.0033

    def __post_init__(self):
        check_type("fit_kwargs", self.fit_kwargs, (dict, type(None)), "a dict or None")
        _set(self, "fit_kwargs", {**_FIT_DEFAULTS, **(self.fit_kwargs or {})})
        if self.min_epoch_size is not None:
            size = check_int("min_epoch_size", self.min_epoch_size, minimum=1)
            _set(self, "min_epoch_size", size)
        if self.ceal_delta is not None:
            _set(self, "ceal_delta", check_number("ceal_delta", self.ceal_delta, minimum=0))
        _set(self, "ceal_decay", check_number("ceal_decay", self.ceal_decay, minimum=0))


_GROUPS = {
    "mc_samples": "acquisition",
    "diversity": "acquisition",
    "query_size": "plan",
    "budget": "plan",
    "initial_size": "plan",
    "seed": "plan",
    "fit_kwargs": "training",
    "min_epoch_size": "training",
    "ceal_delta": "training",
    "ceal_decay": "training",
}
_CLASSES = {"acquisition": Acquisition, "plan": LabelPlan, "training": RoundTraining}


def resolve_options(acquisition, plan, training, old):
    """The three option objects of `ActiveLearner`, from the new arguments and the
    deprecated flat keywords `old` (each warned about, naming its new place)."""
    unknown = sorted(set(old) - set(_GROUPS))
    if unknown:
        raise TypeError(
            f"ActiveLearner() got unexpected keyword arguments {unknown}; its options are "
            "`acquisition`, `plan` (kt.active.LabelPlan) and `training` "
            f"(kt.active.RoundTraining). Received: {unknown[0]}={old[unknown[0]]!r}"
        )
    given = {"acquisition": acquisition, "plan": plan, "training": training}
    fields = {group: {} for group in _CLASSES}
    for name, value in old.items():
        group = _GROUPS[name]
        cls = _CLASSES[group].__name__
        if isinstance(given[group], _CLASSES[group]):
            raise TypeError(
                f"Pass `{name}` inside `{group}`, not beside it. Received: {name}={value!r}"
            )
        new = f"{group}=kt.active.{cls}({name}=...)"
        warn_deprecated(f"ActiveLearner({name}=...)", new, 4, "which means the same")
        fields[group][name] = value
    if not isinstance(acquisition, Acquisition):
        acquisition = Acquisition(acquisition, **fields["acquisition"])
    if not isinstance(plan, LabelPlan):
        plan = _build("plan", LabelPlan, plan, fields["plan"])
    if not isinstance(training, RoundTraining):
        training = _build("training", RoundTraining, training, fields["training"])
    return acquisition, plan, training


def _build(name, cls, value, fields):
    if value is not None:
        check_type(name, value, cls, f"a kt.active.{cls.__name__}")
    return cls(**fields)


def _set(instance, name, value):
    object.__setattr__(instance, name, value)  # normalising a frozen dataclass's field
