import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

import kerastricks as kt
from tests.helpers import run_layer_test

pytestmark = pytest.mark.backend_independent

TYPES = {"depth": "regression", "segmentation": "classification"}


def _reference(losses, s, types):
    """Kendall et al. 2018, eqs. 7 and 10, written out in NumPy."""
    total = 0.0
    for name, task_type in types.items():
        scale = 0.5 if task_type == "regression" else 1.0
        total = total + scale * np.exp(-s[name]) * losses[name] + 0.5 * s[name]
    return total


def _layer_with(s, types=TYPES, **kwargs):
    layer = kt.layers.UncertaintyWeighting(types, **kwargs)
    layer.build()
    for name, value in s.items():
        layer.log_variances[name].assign(value)
    return layer


def _tensors(values):
    return {k: ops.convert_to_tensor(np.asarray(v, "float32")) for k, v in values.items()}


@pytest.mark.parametrize(
    "s", [{"depth": 0.0, "segmentation": 0.0}, {"depth": 1.3, "segmentation": -0.7}]
)
def test_combined_loss_matches_formula(s):
    losses = {"depth": 2.5, "segmentation": 0.8}
    layer = _layer_with(s)
    got = float(ops.convert_to_numpy(layer(_tensors(losses))))
    # Reference: 0.5*exp(-s1)*L1 + 0.5*s1 + exp(-s2)*L2 + 0.5*s2, in float64 NumPy.
    np.testing.assert_allclose(got, _reference(losses, s, TYPES), rtol=1e-6)


def test_per_sample_losses_give_per_sample_combination():
    rng = np.random.default_rng(0)
    losses = {"depth": rng.uniform(0, 3, 5), "segmentation": rng.uniform(0, 2, 5)}
    s = {"depth": 0.4, "segmentation": -0.2}
    got = ops.convert_to_numpy(_layer_with(s)(_tensors(losses)))
    # Reference: the formula applied element-wise, in NumPy.
    np.testing.assert_allclose(got, _reference(losses, s, TYPES), rtol=1e-6)


@pytest.mark.tensorflow
def test_gradients_with_respect_to_log_variances_are_closed_form():
    s = {"depth": 0.5, "segmentation": -1.0}
    losses = {"depth": 3.0, "segmentation": 0.6}
    layer = _layer_with(s)
    variables = [layer.log_variances["depth"], layer.log_variances["segmentation"]]
    loss_tensors = _tensors(losses)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(list(loss_tensors.values()))
        total = layer(loss_tensors)
    grad_s = [float(g) for g in tape.gradient(total, variables)]
    grad_l = [float(tape.gradient(total, loss_tensors[k])) for k in ("depth", "segmentation")]
    # d/ds [0.5 e^-s L + 0.5 s] = 0.5 - 0.5 e^-s L ;  d/ds [e^-s L + 0.5 s] = 0.5 - e^-s L.
    expected_s = [
        0.5 - 0.5 * np.exp(-0.5) * 3.0,
        0.5 - np.exp(1.0) * 0.6,
    ]
    np.testing.assert_allclose(grad_s, expected_s, rtol=1e-6)
    # d/dL: 0.5 e^-s (regression) and e^-s (classification).
    np.testing.assert_allclose(grad_l, [0.5 * np.exp(-0.5), np.exp(1.0)], rtol=1e-6)


@pytest.mark.tensorflow
def test_gradient_vanishes_at_the_optimal_log_variance():
    # Setting the derivative 0.5 - 0.5 e^-s L to zero gives s* = log L (regression) and
    # s* = log(2 L) for classification.
    losses = {"depth": 7.0, "segmentation": 0.3}
    s = {"depth": np.log(7.0), "segmentation": np.log(0.6)}
    layer = _layer_with(s)
    with tf.GradientTape() as tape:
        total = layer(_tensors(losses))
    grads = tape.gradient(total, list(layer.log_variances.values()))
    np.testing.assert_allclose([float(g) for g in grads], [0.0, 0.0], atol=1e-6)


@pytest.mark.tensorflow
def test_range_clips_the_formula_and_the_variable():
    layer = _layer_with({"depth": 0.0}, {"depth": "regression"}, log_variance_range=(-2, 3))
    layer.log_variances["depth"].assign(10.0)  # outside the range, as a user could do
    got = float(ops.convert_to_numpy(layer(_tensors({"depth": 4.0}))))
    # Reference: the formula at the clipped s = 3.
    np.testing.assert_allclose(got, 0.5 * np.exp(-3.0) * 4.0 + 1.5, rtol=1e-6)
    # A huge loss pushes s up; the constraint keeps it at the bound after each step.
    layer.log_variances["depth"].assign(0.0)
    optimizer = keras.optimizers.SGD(learning_rate=10.0)
    for _ in range(3):
        with tf.GradientTape() as tape:
            total = layer(_tensors({"depth": 1e6}))
        optimizer.apply(tape.gradient(total, layer.trainable_variables), layer.trainable_variables)
    assert float(layer.log_variances["depth"].numpy()) == 3.0


def test_init_log_variance_per_task():
    layer = kt.layers.UncertaintyWeighting(TYPES, init_log_variance={"depth": 2.0})
    layer.build()
    assert float(layer.log_variances["depth"].numpy()) == 2.0
    assert float(layer.log_variances["segmentation"].numpy()) == 0.0
    sigmas = {k: float(v) for k, v in layer.sigmas().items()}
    np.testing.assert_allclose(sigmas["depth"], np.exp(1.0), rtol=1e-6)  # exp(s / 2)


def test_layer_contract():
    rng = np.random.default_rng(1)
    data = {
        "depth": rng.uniform(0, 2, 4).astype("float32"),
        "segmentation": rng.uniform(0, 2, 4).astype("float32"),
    }
    # Reference: the formula at the initial s = 0.5 for every task.
    expected = _reference(data, {"depth": 0.5, "segmentation": 0.5}, TYPES)
    # The mixed-precision check of run_layer_test expects float16 outputs; combined losses
    # stay float32 on purpose (see test_mixed_precision_keeps_losses_float32).
    run_layer_test(
        kt.layers.UncertaintyWeighting,
        {"task_types": TYPES, "init_log_variance": 0.5, "log_variance_range": [-4.0, 4.0]},
        data,
        expected,
        rtol=1e-6,
        run_mixed_precision=False,
    )


def test_mixed_precision_keeps_losses_float32():
    layer = kt.layers.UncertaintyWeighting({"a": "regression"}, dtype="mixed_float16")
    # 1e6 overflows float16 (max 65504); the combination must stay float32 and finite.
    total = layer({"a": ops.convert_to_tensor(np.float32(1e6))})
    assert keras.backend.standardize_dtype(total.dtype) == "float32"
    np.testing.assert_allclose(float(total), 0.5e6, rtol=1e-6)
    assert layer.log_variances["a"].dtype == "float32"


def test_bad_arguments():
    with pytest.raises(TypeError, match="task_types"):
        kt.layers.UncertaintyWeighting(["depth"])
    with pytest.raises(ValueError, match="at least one task"):
        kt.layers.UncertaintyWeighting({})
    with pytest.raises(ValueError, match="'regression', 'classification'"):
        kt.layers.UncertaintyWeighting({"depth": "ranking"})
    with pytest.raises(ValueError, match="not in `task_types`"):
        kt.layers.UncertaintyWeighting(TYPES, init_log_variance={"normals": 1.0})
    with pytest.raises(ValueError, match="low < high"):
        kt.layers.UncertaintyWeighting(TYPES, log_variance_range=(2, 1))
    with pytest.raises(TypeError, match="pair"):
        kt.layers.UncertaintyWeighting(TYPES, log_variance_range=3.0)
    with pytest.raises(ValueError, match="outside `log_variance_range`"):
        kt.layers.UncertaintyWeighting(TYPES, init_log_variance=5.0, log_variance_range=(-1, 1))


def test_bad_losses_at_call():
    layer = kt.layers.UncertaintyWeighting(TYPES)
    one = ops.convert_to_tensor(np.float32(1.0))
    with pytest.raises(ValueError, match=r"missing: \['segmentation'\]"):
        layer({"depth": one})
    with pytest.raises(ValueError, match=r"unknown: \['normals'\]"):
        layer({"depth": one, "segmentation": one, "normals": one})
    with pytest.raises(ValueError, match="must be a scalar"):
        layer({"depth": ops.ones((2, 3)), "segmentation": one})
    with pytest.raises(ValueError, match="same shape"):
        layer({"depth": ops.ones((2,)), "segmentation": one})
