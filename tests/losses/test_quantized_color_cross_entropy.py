import numpy as np
import pytest
import tensorflow as tf

import kerastricks as kt
from tests.helpers import run_loss_test

pytestmark = pytest.mark.backend_independent


def data(seed=0, batch=3, height=4, width=5, colors=6):
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, colors, size=(batch, height, width)).astype("int32")
    logits = rng.normal(size=(batch, height, width, colors))
    y_pred = (np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)).astype("float32")
    return y_true, y_pred, logits.astype("float32")


def numpy_cross_entropy(y_true, probabilities):
    """Mean over pixels of -log p[true], per sample (NumPy, float64)."""
    picked = np.take_along_axis(probabilities.astype(np.float64), y_true[..., None], -1)[..., 0]
    return -np.log(picked).reshape(len(y_true), -1).mean(-1)


def test_function_matches_numpy():
    y_true, y_pred, logits = data()
    loss = np.asarray(kt.losses.quantized_color_cross_entropy(y_true, y_pred))
    # Expected: NumPy mean of -log p[true category] over each sample's pixels.
    np.testing.assert_allclose(loss, numpy_cross_entropy(y_true, y_pred), rtol=1e-5)
    from_logits = kt.losses.quantized_color_cross_entropy(y_true, logits, from_logits=True)
    # Expected: the same with NumPy's log-softmax of the logits.
    log_softmax = logits - np.log(np.exp(logits.astype(np.float64)).sum(-1, keepdims=True))
    np.testing.assert_allclose(
        np.asarray(from_logits), numpy_cross_entropy(y_true, np.exp(log_softmax)), rtol=1e-5
    )


def test_loss_contract():
    y_true, y_pred, _ = data(seed=1)
    run_loss_test(
        kt.losses.QuantizedColorCrossEntropy,
        {"from_logits": False, "epsilon": 1e-7},
        y_true,
        y_pred,
        # Expected: the NumPy cross-entropy above.
        expected_per_sample=numpy_cross_entropy(y_true, y_pred),
    )


def test_loss_contract_from_logits():
    y_true, _, logits = data(seed=2)
    probabilities = np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)
    run_loss_test(
        kt.losses.QuantizedColorCrossEntropy,
        {"from_logits": True},
        y_true,
        logits,
        expected_per_sample=numpy_cross_entropy(y_true, probabilities),
    )


def test_correct_one_hot_prediction_is_the_minimum_and_zero_is_finite():
    y_true, _, _ = data(seed=3)
    one_hot = np.eye(6, dtype="float32")[y_true]
    loss = kt.losses.QuantizedColorCrossEntropy(reduction="none")
    np.testing.assert_allclose(np.asarray(loss(y_true, one_hot)), 0.0, atol=1e-6)
    # All probability on a wrong color: every pixel costs -log(epsilon), not infinity.
    wrong = np.eye(6, dtype="float32")[(y_true + 1) % 6]
    np.testing.assert_allclose(np.asarray(loss(y_true, wrong)), -np.log(1e-7), rtol=1e-4)


@pytest.mark.tensorflow
def test_gradient_is_finite_at_zero_probability():
    y_true, _, _ = data(seed=4)
    y_pred = tf.constant(np.eye(6, dtype="float32")[(y_true + 1) % 6])
    with tf.GradientTape() as tape:
        tape.watch(y_pred)
        value = kt.losses.QuantizedColorCrossEntropy()(y_true, y_pred)
    assert np.all(np.isfinite(tape.gradient(value, y_pred).numpy()))


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="epsilon"):
        kt.losses.QuantizedColorCrossEntropy(epsilon=0.0)
    with pytest.raises(TypeError, match="from_logits"):
        kt.losses.QuantizedColorCrossEntropy(from_logits="yes")
    y_true, y_pred, _ = data()
    with pytest.raises(ValueError, match="rank"):
        kt.losses.quantized_color_cross_entropy(y_true[..., None], y_pred)
