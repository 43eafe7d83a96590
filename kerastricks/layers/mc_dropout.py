"""Dropout that stays on at inference, for Monte Carlo dropout uncertainty."""

from numbers import Integral

import keras
from keras import ops

from kerastricks._checks import check_int, check_number, check_type, fail
from kerastricks._registry import register

__all__ = ["MCDropout"]


@register
class MCDropout(keras.layers.Layer):
    """Dropout that is applied in training AND inference, for Monte Carlo dropout.

    Zeroes each input unit with probability `rate` and scales the kept units by
    `1 / (1 - rate)`, like `keras.layers.Dropout`, but ignores the `training` flag: the
    layer drops units in `model.predict` too, so `T` forward passes of the same input give
    `T` samples of an approximate posterior predictive (`kt.active.mc_predict`).

    Unlike calling the whole model with `training=True`, only this layer becomes random:
    `BatchNormalization` keeps using its moving statistics at inference, and other
    training-only behaviour (ordinary `Dropout`, noise layers) stays off.

    Reference:
        Gal & Ghahramani, "Dropout as a Bayesian Approximation: Representing Model
        Uncertainty in Deep Learning" (ICML 2016); for active learning, Gal, Islam &
        Ghahramani, "Deep Bayesian Active Learning with Image Data" (ICML 2017).

    Args:
        rate: the fraction of units to drop, in `[0, 1)`.
        noise_shape: the shape of the binary mask, broadcast against the input; `None`
            entries take the input's size (`(None, 1, 1, None)` drops whole channels of an
            NHWC image). Defaults to `None` (an independent mask for every unit).
        seed: an integer seed for the layer's `keras.random.SeedGenerator`, for a
            reproducible sequence of masks. Defaults to `None`.
        **kwargs: base `keras.layers.Layer` arguments (`name`, `dtype`...).

    Call arguments:
        inputs: a tensor of any shape.
        training: ignored; the units are dropped either way.

    Input shape:
        Any.

    Output shape:
        The same as the input.

    Raises:
        TypeError: `rate` is not a number, `seed` not an integer, or `noise_shape` not a
            sequence of integers and `None`.
        ValueError: `rate` is outside `[0, 1)`, or a `noise_shape` entry is below 1.

    Example:

    >>> import numpy as np
    >>> import kerastricks as kt
    >>> layer = kt.layers.MCDropout(0.5, seed=1)
    >>> x = np.ones((1, 1000), "float32")
    >>> y = np.asarray(layer(x, training=False))
    >>> np.unique(y).tolist(), bool(400 < (y == 0).sum() < 600)
    ([0.0, 2.0], True)
    """

    #: Marks a layer that stays random in inference: `kt.active.mc_predict` and the active
    #: learner look for it (so that technique code needs no import of this layer).
    random_at_inference = True

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = check_number("rate", rate, 0.0, 1.0, max_inclusive=False)
        self.noise_shape = _check_noise_shape(noise_shape)
        self.seed = None if seed is None else check_int("seed", seed)
        self.seed_generator = keras.random.SeedGenerator(self.seed)
        self.supports_masking = True
        self.built = True

    def call(self, inputs, training=None):
        if self.rate == 0.0:
            return inputs
        return keras.random.dropout(
            inputs, self.rate, noise_shape=self._mask_shape(inputs), seed=self.seed_generator
        )

    def _mask_shape(self, inputs):
        if self.noise_shape is None:
            return None
        shape = ops.shape(inputs)
        return tuple(shape[i] if size is None else size for i, size in enumerate(self.noise_shape))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "rate": self.rate,
                "noise_shape": None if self.noise_shape is None else list(self.noise_shape),
                "seed": self.seed,
            }
        )
        return config


def _check_noise_shape(noise_shape):
    if noise_shape is None:
        return None
    check_type("noise_shape", noise_shape, (list, tuple), "a list or tuple of ints and None")
    for size in noise_shape:
        if size is None:
            continue
        if isinstance(size, bool) or not isinstance(size, Integral):
            fail(
                "`noise_shape` entries must be ints or None.", "noise_shape", noise_shape, TypeError
            )
        if size < 1:
            fail("`noise_shape` entries must be >= 1.", "noise_shape", noise_shape)
    return tuple(None if size is None else int(size) for size in noise_shape)
