"""The optimizer a LearningRateMultiplier wraps: built from a name, class or instance."""

import difflib
import inspect

import keras

from kerastricks._checks import fail, shorten


def make_inner(optimizer, optimizer_kwargs):
    if "lr" in optimizer_kwargs:
        if "learning_rate" in optimizer_kwargs:
            fail("Pass `learning_rate` or its alias `lr`, not both.", "lr", optimizer_kwargs["lr"])
        optimizer_kwargs["learning_rate"] = optimizer_kwargs.pop("lr")
    if isinstance(optimizer, keras.optimizers.Optimizer):
        if optimizer_kwargs:
            fail(
                "Optimizer arguments cannot be given with an optimizer instance; set them "
                "on the instance, or pass the optimizer class instead.",
                "optimizer_kwargs",
                sorted(optimizer_kwargs),
                TypeError,
            )
        if isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
            fail(
                "Wrap the plain optimizer: Keras adds loss scaling around the wrapper itself "
                "under the `mixed_float16` policy.",
                "optimizer",
                optimizer,
                TypeError,
            )
        return optimizer
    if isinstance(optimizer, str):
        try:
            optimizer = type(keras.optimizers.get(optimizer))
        except ValueError:
            fail("`optimizer` is not a known Keras optimizer name.", "optimizer", optimizer)
    if isinstance(optimizer, type) and issubclass(optimizer, keras.optimizers.Optimizer):
        check_optimizer_kwargs(optimizer, optimizer_kwargs)
        return optimizer(**optimizer_kwargs)
    fail(
        "`optimizer` must be a Keras optimizer class, instance or name such as 'adam'.",
        "optimizer",
        optimizer,
        TypeError,
    )


def check_optimizer_kwargs(cls, optimizer_kwargs):
    """Names any keyword that neither `cls` nor the Keras optimizer base class accepts."""
    accepted = set()
    for owner in (cls, keras.optimizers.Optimizer):
        accepted.update(inspect.signature(owner.__init__).parameters)
    unknown = sorted(set(optimizer_kwargs) - accepted)
    if unknown:
        options = sorted(accepted - {"self", "kwargs"})
        close = difflib.get_close_matches(unknown[0], options, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"accepted: {shorten(options)}"
        fail(
            f"`{cls.__name__}` takes no argument {unknown[0]!r} ({hint}).",
            unknown[0],
            optimizer_kwargs[unknown[0]],
            TypeError,
        )


def base_rate(inner):
    """The wrapped optimizer's learning rate, as its config gives it: a schedule or a float."""
    rate = inner.get_config()["learning_rate"]
    if isinstance(rate, dict):
        return keras.optimizers.schedules.deserialize(rate)
    return float(rate)
