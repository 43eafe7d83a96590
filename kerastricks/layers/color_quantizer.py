"""K-means color quantization: colors to categories and back, fitted with `adapt`."""

import keras
import numpy as np
from keras import ops

from kerastricks._checks import check_choice, check_int, fail
from kerastricks._registry import register
from kerastricks.layers._color_kmeans import color_points, fit_centroids, nearest_distances
from kerastricks.layers._color_space import rgb_to_lab

__all__ = ["ColorQuantizer"]

_SPACES = {"ab": 2, "lab": 3}


@register
class ColorQuantizer(keras.layers.Layer):
    """Maps colors to the index of their nearest k-means color centroid, in CIE Lab.

    Vondrick et al. predict colors as categories, not as numbers: a mean squared error
    on colors averages the plausible colors of a pixel to grey, while a softmax over color
    categories keeps them apart. This layer makes the categories. `adapt(data)` runs
    k-means on the pixels of `data` (like the `adapt` of Keras preprocessing layers) and
    stores the centroids; calling the layer converts colors to CIE Lab (D65, the
    convention of `skimage.color.rgb2lab`) and returns, per pixel, the index of the
    nearest centroid (Euclidean distance). `decode(indices)` maps indices back to the
    centroid colors.

    With `color_space="ab"` (the default, as in the paper) only the two chroma channels
    a and b are clustered: lightness L is what the colorization network sees as input,
    so only a and b are predicted. With `color_space="lab"` all three channels are.

    The quantization error is the Euclidean distance between a color and its centroid,
    in the quantized space (CIE76 Delta E for `"lab"`, its chroma part for `"ab"`).
    `adapt` records its mean and maximum over the adapted pixels in
    `quantization_error` and `max_quantization_error`; `measure_error(data)` computes
    them for any colors. Centroids and errors are weights, saved with the model; the
    centroids are also in `get_config`, so `from_config` rebuilds an adapted layer.

    Inputs are not cast to the compute dtype, and color conversion and distances are
    computed in float32 under every dtype policy, so that a category never depends on the
    precision policy (only `"one_hot"` outputs are in the compute dtype).

    Reference:
        Vondrick et al., "Tracking Emerges by Colorizing Videos" (ECCV 2018).

    Args:
        num_colors: number of color categories (k-means clusters). Defaults to 16.
        color_space: `"ab"` (cluster chroma a, b) or `"lab"` (cluster L, a, b).
            Defaults to `"ab"`.
        input_space: `"rgb"` (sRGB values in [0, 1]) or `"lab"` (CIE Lab values) for
            the inputs of `call`, `adapt` and `measure_error`. Defaults to `"rgb"`.
        output_mode: `"int"` (an int32 category index per pixel) or `"one_hot"` (a
            one-hot vector of `num_colors` values per pixel, in the compute dtype).
            Defaults to `"int"`.
        centroids: optional array `[num_colors, 2 or 3]` of centroids in the quantized
            space, instead of `adapt`. Defaults to `None`.
        seed: seed of the k-means initialisation and pixel sampling in `adapt`.
            Defaults to `None`.
        **kwargs: base `Layer` arguments (`name`, `dtype`).

    Call arguments:
        inputs: colors, shape `[..., 3]`.

    Input shape:
        `[..., 3]`, e.g. `[batch, height, width, 3]`.

    Output shape:
        `[...]` (int32) for `output_mode="int"`, `[..., num_colors]` for `"one_hot"`.

    Raises:
        TypeError: an argument has the wrong type.
        ValueError: a bad choice or count; centroids of the wrong shape or not finite;
            inputs whose last axis is not 3; calling before `adapt` (or `centroids`);
            `adapt` data with fewer pixels than `num_colors`.

    Example:

    >>> import numpy as np
    >>> import kerastricks as kt
    >>> colors = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]] * 50).reshape(10, 10, 3)
    >>> quantizer = kt.layers.ColorQuantizer(num_colors=2, seed=0)
    >>> quantizer.adapt(colors)
    >>> indices = quantizer(colors[None, :1, :2])
    >>> bool(indices[0, 0, 0] != indices[0, 0, 1]), round(quantizer.quantization_error, 3)
    (True, 0.0)
    >>> quantizer.decode(indices).shape  # the (a, b) of each pixel's centroid
    TensorShape([1, 1, 2, 2])
    """

    def __init__(
        self,
        num_colors=16,
        color_space="ab",
        input_space="rgb",
        output_mode="int",
        centroids=None,
        seed=None,
        **kwargs,
    ):
        kwargs.setdefault("autocast", False)  # colors stay float32 under mixed precision
        super().__init__(**kwargs)
        self.num_colors = check_int("num_colors", num_colors, minimum=1)
        self.color_space = check_choice("color_space", color_space, tuple(_SPACES))
        self.input_space = check_choice("input_space", input_space, ("rgb", "lab"))
        self.output_mode = check_choice("output_mode", output_mode, ("int", "one_hot"))
        self.centroids = None if centroids is None else self._check_centroids(centroids)
        self.seed = None if seed is None else check_int("seed", seed, minimum=0)
        self._error_stats = np.array([-1.0, -1.0])  # until adapted: unknown

    @property
    def channels(self) -> int:
        """Number of channels of the quantized space: 2 for `"ab"`, 3 for `"lab"`."""
        return _SPACES[self.color_space]

    @property
    def is_adapted(self) -> bool:
        """Whether centroids are known (from `adapt`, `centroids=` or a loaded model)."""
        return self.centroids is not None

    @property
    def quantization_error(self):
        """Mean distance of the adapted colors to their centroids (`None` if unknown)."""
        return self._error(0)

    @property
    def max_quantization_error(self):
        """Largest distance of an adapted color to its centroid (`None` if unknown)."""
        return self._error(1)

    def build(self, input_shape):
        if input_shape[-1] != 3:
            fail(
                "`ColorQuantizer` expects colors with 3 channels on the last axis.",
                "input_shape",
                tuple(input_shape),
            )
        self.centroid_weights = self.add_weight(
            shape=(self.num_colors, self.channels),
            initializer="zeros",
            trainable=False,
            dtype="float32",
            name="centroids",
        )
        self.error_weights = self.add_weight(
            shape=(2,),
            initializer="zeros",
            trainable=False,
            dtype="float32",
            name="quantization_error",
        )
        self.error_weights.assign(self._error_stats.astype("float32"))
        if self.centroids is not None:
            self.centroid_weights.assign(np.asarray(self.centroids, "float32"))

    def call(self, inputs):
        if not self.is_adapted:
            fail(
                "`ColorQuantizer` has no centroids: call `adapt(data)` first, or pass `centroids`.",
                "centroids",
                None,
            )
        distances = self._distances(inputs, self.centroid_weights)
        indices = ops.cast(ops.argmin(distances, axis=-1), "int32")
        if self.output_mode == "one_hot":
            return ops.one_hot(indices, self.num_colors, dtype=self.compute_dtype)
        return indices

    def decode(self, indices, lightness=None):
        """Maps category indices back to their centroid colors.

        Args:
            indices: integer category indices, any shape `[...]`.
            lightness: optional L values `[...]` for `color_space="ab"`, to return full
                Lab colors. Defaults to `None`.

        Returns:
            Float32 centroid colors `[..., 2]` (a, b) or `[..., 3]` (L, a, b).
        """
        if not self.is_adapted:
            fail(
                "`ColorQuantizer.decode` needs centroids: call `adapt(data)` first.",
                "centroids",
                None,
            )
        colors = ops.take(ops.convert_to_tensor(self._centroid_array()), indices, axis=0)
        if lightness is None:
            return colors
        if self.color_space != "ab":
            fail("`lightness` is only used with color_space='ab'.", "color_space", self.color_space)
        return ops.concatenate([ops.cast(lightness, "float32")[..., None], colors], axis=-1)

    def adapt(self, data, sample_size=200_000):
        """Fits the centroids with k-means on the pixels of `data`.

        Runs scikit-learn's k-means (k-means++ initialisation, 4 restarts) on at most
        `sample_size` pixels drawn at random, then measures the quantization error over
        all pixels of `data`.

        Args:
            data: colors `[..., 3]` as a NumPy array or tensor, or an iterable of such
                batches (such as a `tf.data.Dataset`).
            sample_size: pixels used to fit k-means. Defaults to 200000.
        """
        sample_size = check_int("sample_size", sample_size, minimum=1)
        points = color_points(data, self.input_space, self.color_space)
        centroids = fit_centroids(points, self.num_colors, sample_size, self.seed)
        self.centroids = centroids.astype("float32").tolist()
        distances = nearest_distances(points, centroids)
        self._error_stats = np.array([distances.mean(), distances.max()])
        if self.built:
            self.centroid_weights.assign(np.asarray(self.centroids, "float32"))
            self.error_weights.assign(self._error_stats.astype("float32"))

    def measure_error(self, data) -> dict:
        """Mean and maximum distance of the colors of `data` to their nearest centroids.

        Args:
            data: colors `[..., 3]` (or an iterable of batches), in `input_space`.

        Returns:
            `{"mean": float, "max": float}`, in Lab units of the quantized space.
        """
        points = color_points(data, self.input_space, self.color_space)
        distances = nearest_distances(points, self._centroid_array())
        return {"mean": float(distances.mean()), "max": float(distances.max())}

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)[:-1]
        return shape + (self.num_colors,) if self.output_mode == "one_hot" else shape

    def compute_output_spec(self, inputs):
        dtype = self.compute_dtype if self.output_mode == "one_hot" else "int32"
        return keras.KerasTensor(self.compute_output_shape(inputs.shape), dtype=dtype)

    def get_config(self):
        config = super().get_config()
        config.update(
            num_colors=self.num_colors,
            color_space=self.color_space,
            input_space=self.input_space,
            output_mode=self.output_mode,
            centroids=None if self.centroids is None else self._centroid_array().tolist(),
            seed=self.seed,
        )
        return config

    def load_own_variables(self, store):
        super().load_own_variables(store)
        self.centroids = np.asarray(self.centroid_weights.numpy()).tolist()
        self._error_stats = np.asarray(self.error_weights.numpy(), "float64")

    # -- helpers -------------------------------------------------------------------------

    def _distances(self, colors, centroids):
        colors = ops.cast(colors, "float32")
        lab = rgb_to_lab(colors) if self.input_space == "rgb" else colors
        features = lab[..., 1:] if self.color_space == "ab" else lab
        difference = features[..., None, :] - ops.cast(centroids, "float32")
        return ops.sum(ops.square(difference), axis=-1)

    def _centroid_array(self):
        if self.built:
            return np.asarray(self.centroid_weights.numpy(), "float32")
        return np.asarray(self.centroids, "float32")

    def _check_centroids(self, centroids):
        array = np.asarray(centroids, dtype="float64")
        if array.shape != (self.num_colors, self.channels):
            fail(
                f"`centroids` must have shape ({self.num_colors}, {self.channels}) for "
                f"num_colors={self.num_colors} and color_space={self.color_space!r}.",
                "centroids.shape",
                array.shape,
            )
        if not np.all(np.isfinite(array)):
            fail("`centroids` must be finite.", "centroids", centroids)
        return array.tolist()

    def _error(self, index):
        value = float(self._error_stats[index])
        return None if value < 0 else value
