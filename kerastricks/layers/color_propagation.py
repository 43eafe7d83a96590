"""The colorization pointer: copy reference labels by softmax attention over pixels."""

import keras
from keras import ops

from kerastricks._checks import check_choice, check_int, check_number, check_rank, fail
from kerastricks._registry import register
from kerastricks.tracking.copy_labels import copy_labels

__all__ = ["ColorPropagation"]


@register
class ColorPropagation(keras.layers.Layer):
    """Copies per-pixel labels from reference frames by softmax attention over embeddings.

    For each target pixel `i` with embedding `t_i`, and every pixel `j` of the `R`
    reference frames with embedding `r_j` and label vector `c_j`:

        A_ij = softmax_j(s(t_i, r_j) / temperature),     y_i = sum_j A_ij c_j

    where `s` is the dot product `t_i . r_j` (the paper's choice) or, with
    `similarity="euclidean"`, the negative squared distance `-|t_i - r_j|^2`. The softmax
    runs over all reference pixels of all reference frames together. Labels are any
    per-pixel values: one-hot quantized colors during training, soft masks, keypoint
    heatmaps or anything else at test time (that is the tracker). Since the weights of a
    pixel sum to 1, probabilities in give probabilities out.

    As `temperature` goes to 0 the softmax becomes an argmax: each target pixel copies
    the label of its most similar reference pixel (its nearest neighbour for
    `similarity="euclidean"`, or for unit-length embeddings).

    Memory: full attention builds the `[B, H*W, R*H*W]` matrix of similarities (and its
    softmax, and for training their gradients): `4 * B * R * (H*W)^2` bytes per copy in
    float32, so 64 MiB at 64x64 and 1 GiB at 128x128 for one frame pair, quadratic in the
    number of pixels. With `window_radius=r` each target pixel only attends to the
    `(2r+1)^2` reference pixels around its own position in every reference frame. The
    window is computed on tiles of `T x T` target pixels (`T = max(2r, 4)`), each
    against the `(T + 2r)^2` reference pixels around it with a mask, as dense matmuls
    that XLA compiles quickly; that costs `4 * B * R * H*W * (T + 2r)^2` bytes (about
    3x the window itself for `r = 4`): linear in pixels. Use a window when objects
    move less than `r` embedding pixels between a reference and the target. The window
    needs target and reference frames of the same size; full attention does not.

    The similarities and the softmax are computed in float32 under every policy (a small
    temperature would overflow float16); the weighted sum of labels and the output are in
    the compute dtype.

    Reference:
        Vondrick et al., "Tracking Emerges by Colorizing Videos" (ECCV 2018).

    Args:
        temperature: the softmax temperature, `> 0`. Defaults to 1.0.
        window_radius: `None` for full attention, or an integer `r >= 0` to restrict
            attention to a `(2r+1) x (2r+1)` window. Defaults to `None`.
        similarity: `"dot"` (dot product) or `"euclidean"` (negative squared Euclidean
            distance). Defaults to `"dot"`.
        **kwargs: base `Layer` arguments (`name`, `dtype`).

    Call arguments:
        inputs: a list `[target, reference, labels]`: target embeddings
            `[B, H, W, D]`, reference embeddings `[B, R, H', W', D]` (or `[B, H', W', D]`
            for one reference frame) and reference labels `[B, R, H', W', K]` (or
            `[B, H', W', K]`).

    Input shape:
        `[(B, H, W, D), (B, R, H', W', D), (B, R, H', W', K)]`.

    Output shape:
        `(B, H, W, K)`.

    Raises:
        TypeError: `temperature` is not a number or `window_radius` not an integer.
        ValueError: `temperature <= 0`; `window_radius < 0`; an unknown `similarity`;
            at build, inputs that are not three tensors of the ranks above, embeddings
            of different depths, labels of a different size than the reference, or a
            window with target and reference of different sizes.

    Example:

    >>> import numpy as np
    >>> import kerastricks as kt
    >>> target = np.array([[[[1.0, 0.0], [0.0, 1.0]]]])     # [1, 1, 2, 2]: 2 pixels, D=2
    >>> reference = target[:, :, ::-1]                       # the same pixels, swapped
    >>> labels = np.array([[[[1.0], [2.0]]]])                 # [1, 1, 2, 1]
    >>> layer = kt.layers.ColorPropagation(temperature=0.01)
    >>> np.round(np.asarray(layer([target, reference, labels]))[0, 0, :, 0], 3)
    array([2., 1.], dtype=float32)
    """

    def __init__(self, temperature=1.0, window_radius=None, similarity="dot", **kwargs):
        super().__init__(**kwargs)
        self.temperature = check_number(
            "temperature", temperature, minimum=0.0, min_inclusive=False
        )
        self.window_radius = (
            None if window_radius is None else check_int("window_radius", window_radius, minimum=0)
        )
        self.similarity = check_choice("similarity", similarity, ("dot", "euclidean"))

    def build(self, input_shape):
        target, reference, labels = _unpack_shapes(input_shape)
        check_rank("target", target, 4, "batch, height, width, depth")
        check_rank("reference", reference, (4, 5), "batch, [frames,] height, width, depth")
        check_rank("labels", labels, (4, 5), "batch, [frames,] height, width, channels")
        reference, labels = _with_frames(reference), _with_frames(labels)
        if _known(target[-1]) and _known(reference[-1]) and target[-1] != reference[-1]:
            fail(
                "`target` and `reference` embeddings must have the same depth (last axis).",
                "shapes",
                (tuple(target), tuple(reference)),
            )
        for axis in (1, 2, 3):
            if _known(reference[axis]) and _known(labels[axis]) and reference[axis] != labels[axis]:
                fail(
                    "`labels` must have one label vector per reference pixel: shape "
                    "[B, R, H', W', K] for reference [B, R, H', W', D].",
                    "shapes",
                    (tuple(reference), tuple(labels)),
                )
        if self.window_radius is not None:
            for axis in (1, 2):
                if (
                    _known(target[axis])
                    and _known(reference[axis + 1])
                    and (target[axis] != reference[axis + 1])
                ):
                    fail(
                        "A window (`window_radius`) needs target and reference frames of "
                        "the same height and width.",
                        "shapes",
                        (tuple(target), tuple(reference)),
                    )

    def call(self, inputs):
        target, reference, labels = _unpack(inputs)
        labels = ops.cast(labels, self.compute_dtype)
        return copy_labels(
            target, reference, labels, self.temperature, self.window_radius, self.similarity
        )

    def compute_output_shape(self, input_shape):
        target, _, labels = _unpack_shapes(input_shape)
        return tuple(target[:-1]) + (labels[-1],)

    def get_config(self):
        config = super().get_config()
        config.update(
            temperature=self.temperature,
            window_radius=self.window_radius,
            similarity=self.similarity,
        )
        return config


def _unpack(inputs):
    if not isinstance(inputs, list | tuple) or len(inputs) != 3:
        fail(
            "`ColorPropagation` takes a list [target, reference, labels].",
            "inputs",
            type(inputs).__name__,
        )
    return inputs


def _unpack_shapes(input_shape):
    if (
        not isinstance(input_shape, list | tuple)
        or len(input_shape) != 3
        or not all(isinstance(s, list | tuple) for s in input_shape)
    ):
        fail(
            "`ColorPropagation` takes a list [target, reference, labels] of three tensors.",
            "input_shape",
            input_shape,
        )
    return [tuple(s) for s in input_shape]


def _with_frames(shape):
    return shape if len(shape) == 5 else (shape[0], 1) + tuple(shape[1:])


def _known(dim):
    return dim is not None
