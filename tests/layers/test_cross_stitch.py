import numpy as np
import pytest
import tensorflow as tf
from keras import ops

import kerastricks as kt
from tests.helpers import run_layer_test

pytestmark = pytest.mark.backend_independent


def _inputs(count, shape=(2, 3, 3, 4), seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=shape).astype("float32") for _ in range(count)]


def test_initial_matrix_is_near_identity():
    layer = kt.layers.CrossStitch(self_weight=0.8, mode="global")
    layer(_inputs(3))
    # Reference: 0.8 on the diagonal, (1 - 0.8) / (3 - 1) = 0.1 elsewhere.
    expected = np.full((3, 3), 0.1) + np.eye(3) * 0.7
    np.testing.assert_allclose(ops.convert_to_numpy(layer.alpha), expected, rtol=1e-6)


def test_channel_mode_matches_numpy_mixing():
    x = _inputs(2)
    layer = kt.layers.CrossStitch()
    layer(x)
    alpha = np.random.default_rng(1).normal(size=(2, 2, 4)).astype("float32")
    layer.alpha.assign(alpha)
    out = [ops.convert_to_numpy(t) for t in layer(x)]
    # Reference: out_i[..., c] = sum_j alpha[i, j, c] * x_j[..., c] (Misra et al., eq. 1).
    stacked = np.stack(x)
    expected = np.einsum("ijc,jbhwc->ibhwc", alpha, stacked)
    np.testing.assert_allclose(np.stack(out), expected, rtol=1e-5, atol=1e-6)


def test_global_mode_and_channels_first_axis():
    x = _inputs(3, shape=(2, 4, 5))  # channels on axis 1
    layer = kt.layers.CrossStitch(mode="global", axis=1)
    layer(x)
    alpha = np.random.default_rng(2).normal(size=(3, 3)).astype("float32")
    layer.alpha.assign(alpha)
    out = np.stack([ops.convert_to_numpy(t) for t in layer(x)])
    # Reference: one matrix for every channel.
    np.testing.assert_allclose(out, np.einsum("ij,j...->i...", alpha, np.stack(x)), rtol=1e-5)
    per_channel = kt.layers.CrossStitch(axis=1)
    per_channel(x)
    assert tuple(per_channel.alpha.shape) == (3, 3, 4)


@pytest.mark.tensorflow
def test_gradient_with_respect_to_alpha():
    x = _inputs(2, shape=(1, 2, 3))
    layer = kt.layers.CrossStitch()
    layer(x)
    with tf.GradientTape() as tape:
        out_a, _ = layer(x)
        total = ops.sum(out_a)
    grad = ops.convert_to_numpy(tape.gradient(total, layer.alpha))
    # d sum(out_0) / d alpha[0, j, c] = sum over batch and positions of x_j[..., c]; row 1
    # does not enter out_0.
    expected = np.stack([np.stack([xj.sum(axis=(0, 1)) for xj in x]), np.zeros((2, 3))])
    np.testing.assert_allclose(grad, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("mode", ["channel", "global"])
def test_layer_contract(mode):
    x = _inputs(2, shape=(2, 3, 3, 4), seed=3)
    # Reference at initialisation: 0.9 of itself plus 0.1 of the other column.
    expected = [0.9 * x[0] + 0.1 * x[1], 0.1 * x[0] + 0.9 * x[1]]
    run_layer_test(
        kt.layers.CrossStitch,
        {"self_weight": 0.9, "mode": mode, "axis": -1},
        x,
        expected,
        rtol=1e-5,
    )


def test_bad_arguments_and_inputs():
    with pytest.raises(ValueError, match="self_weight"):
        kt.layers.CrossStitch(self_weight=1.5)
    with pytest.raises(ValueError, match="mode"):
        kt.layers.CrossStitch(mode="spatial")
    with pytest.raises(ValueError, match="at least two"):
        kt.layers.CrossStitch()(_inputs(1))
    with pytest.raises(ValueError, match="same shape"):
        kt.layers.CrossStitch()([_inputs(1)[0], _inputs(1, shape=(2, 3, 3, 5))[0]])
    with pytest.raises(ValueError, match="axis"):
        kt.layers.CrossStitch(axis=4)(_inputs(2))
    with pytest.raises(TypeError, match="list"):
        kt.layers.CrossStitch()(_inputs(1)[0])
