"""Monte Carlo dropout predictions: `T` stochastic forward passes of one model."""

import warnings

import keras
import numpy as np

from kerastricks._checks import check_int, check_type
from kerastricks.active._forward import forward

__all__ = ["mc_predict"]


def mc_predict(model, x, samples: int = 20, batch_size=None) -> np.ndarray:
    """Runs the model `samples` times at inference and stacks the results, members first.

    With `kt.layers.MCDropout` in the model, every pass drops a different set of units, so
    the passes are samples of the approximate posterior predictive of Gal & Ghahramani;
    score them with `kt.active.bald`, `variation_ratio`, `mean_std`, or the averaged
    `entropy`. The passes run with `training=False` (eagerly, in batches, which is much
    faster than `model.predict` for many passes of a small model), so batch normalization
    stays in inference mode; only `MCDropout` layers are random.

    Reference:
        Gal & Ghahramani, "Dropout as a Bayesian Approximation" (ICML 2016); Gal, Islam &
        Ghahramani, "Deep Bayesian Active Learning with Image Data" (ICML 2017).

    Args:
        model: a `keras.Model` with one output, usually with `kt.layers.MCDropout` layers.
            A model without any warns: its passes would all be equal.
        x: the inputs: an array `[N, ...]` (or a list or dict of them for several inputs).
        samples: the number `T` of stochastic passes, `>= 1`. Defaults to 20.
        batch_size: samples per forward call. Defaults to `None` (512).

    Returns:
        A NumPy array `[T, N, ...]`: pass `t`'s output for every input.

    Raises:
        TypeError: `model` is not a `keras.Model`, or `samples` not an integer.
        ValueError: `samples < 1`.

    Example:

    >>> import keras, numpy as np
    >>> import kerastricks as kt
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(16, "relu"),
    ...                           kt.layers.MCDropout(0.5, seed=0),
    ...                           keras.layers.Dense(3, activation="softmax")])
    >>> x = np.random.default_rng(0).normal(size=(5, 4)).astype("float32")
    >>> probs = kt.active.mc_predict(model, x, samples=8)
    >>> probs.shape, bool(np.ptp(probs, axis=0).max() > 0)
    ((8, 5, 3), True)
    """
    check_type("model", model, keras.Model, "a keras.Model")
    samples = check_int("samples", samples, minimum=1)
    if not _has_mc_dropout(model):
        warnings.warn(
            "`mc_predict`: the model has no `kt.layers.MCDropout` layer, so every pass gives "
            "the same prediction. Replace its `Dropout` layers with `MCDropout`.",
            stacklevel=2,
        )
    passes = [forward(model, x, batch_size) for _ in range(samples)]
    return np.stack(passes)


def _has_mc_dropout(layer) -> bool:
    if random_at_inference(layer):
        return True
    return any(_has_mc_dropout(inner) for inner in getattr(layer, "layers", ()))


def random_at_inference(layer) -> bool:
    """Whether `layer` stays random in inference (`kt.layers.MCDropout` says so)."""
    return getattr(layer, "random_at_inference", False) is True
