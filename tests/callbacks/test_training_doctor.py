"""TrainingDoctor: plant each fault in a tiny model, check the matching finding is reported.

The data are ten Gaussian blobs in 16 dimensions (a problem a small MLP solves in a few
dozen steps), so every run is a few hundred steps at most. `probe` is a held batch.
"""

import glob
import importlib.util
import json

import keras
import numpy as np
import pytest
from keras import ops

import kerastricks as kt
from tests.helpers import two_device_strategy

CLASSES, DIM = 10, 16
JIT = False
FAST = {"window": 100}  # judge `not_learning` after 100 steps instead of 500


def blobs(n, seed, shuffle_labels=False, offset=0.0, scale=1.0):
    rng = np.random.default_rng(seed)
    centers = np.random.default_rng(123).normal(size=(CLASSES, DIM)) * 1.5
    y = rng.integers(0, CLASSES, n)
    x = centers[y] + rng.normal(size=(n, DIM))
    if shuffle_labels:
        y = rng.permutation(y)
    return (offset + scale * x).astype("float32"), y.astype("int32")


class InferenceBatchNorm(keras.layers.Layer):
    """The bug: a custom block that always calls its batch norm in inference mode."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.bn = keras.layers.BatchNormalization(name="bn")

    def call(self, inputs, training=None):
        return self.bn(inputs, training=False)


def mlp(hidden_kwargs=None, head="softmax", batchnorm=None, seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((DIM,))
    h = inputs
    if batchnorm == "frozen":
        bn = keras.layers.BatchNormalization(name="bn")
        bn.trainable = False
        h = bn(h)
    elif batchnorm == "inference_call":
        h = InferenceBatchNorm()(h)
    h = keras.layers.Dense(32, activation="relu", name="hidden1")(h)
    h = keras.layers.Dense(32, activation="relu", name="hidden2", **(hidden_kwargs or {}))(h)
    outputs = keras.layers.Dense(CLASSES, activation=head, name="head")(h)
    return keras.Model(inputs, outputs)


def run(model, x, y, steps=200, probe=None, check_labels=False, every=20, thresholds=FAST):
    doctor = kt.callbacks.TrainingDoctor(
        probe_data=probe, every=every, check_labels=check_labels, thresholds=thresholds, verbose=0
    )
    epochs = -(-steps * 32 // len(x))
    history = model.fit(x, y, batch_size=32, epochs=epochs, callbacks=[doctor], verbose=0)
    return doctor, history


def codes(doctor):
    return {finding.code for finding in doctor.findings}


def compile_sparse(model, optimizer):
    model.compile(optimizer, "sparse_categorical_crossentropy", jit_compile=JIT)
    return model


def test_healthy_run_reports_nothing():
    x, y = blobs(640, 0)
    probe = blobs(64, 1)
    model = compile_sparse(mlp(), keras.optimizers.Adam(1e-3))
    kernels = [layer.kernel for layer in model.layers if hasattr(layer, "kernel")]
    initial_rms = np.array([np.sqrt(np.mean(np.square(k.numpy()))) for k in kernels])
    doctor, history = run(model, x, y, probe=probe, check_labels=True)
    assert doctor.findings == [], [str(f) for f in doctor.findings]
    assert history.history["doctor_findings"][-1] == 0.0
    # The probe ran at step 0 and every 20 steps (10 measurements in 200 steps).
    ratios = [m["median_update_ratio"] for m in doctor.measurements]
    assert len(ratios) == 10
    # Adam's first step moves every element by lr * g / (|g| + 1e-7) = lr (bias-corrected
    # m = g, v = g^2), so a kernel's |dW| / |W| is lr / RMS(W) when no gradient element is
    # zero (a ReLU unit inactive on all 32 samples zeroes some; 0.95 allows 10% of them).
    first = float(np.median(1e-3 / initial_rms))  # about 5e-3 for Glorot-uniform kernels
    assert 0.95 * first <= ratios[0] <= first * (1 + 1e-5)
    # Afterwards each element moves at most lr (1 - beta_1) / sqrt(1 - beta_2) = 3.16 lr
    # (Kingma & Ba, Sec. 2.1); the kernels' norms grow (checked), so no later ratio can
    # exceed 3.16 times the first.
    final_rms = np.array([np.sqrt(np.mean(np.square(k.numpy()))) for k in kernels])
    assert np.all(final_rms >= initial_rms)
    assert all(r <= 3.17 * ratios[0] for r in ratios[1:])


def test_doctor_does_not_change_the_run():
    # Dropout and batch norm make the probe's side effects visible if they were not undone.
    def trained(with_doctor):
        keras.utils.set_random_seed(3)
        inputs = keras.Input((DIM,))
        h = keras.layers.Dense(32, activation="relu")(inputs)
        h = keras.layers.BatchNormalization()(h)
        h = keras.layers.Dropout(0.3)(h)
        model = keras.Model(inputs, keras.layers.Dense(CLASSES, activation="softmax")(h))
        compile_sparse(model, "adam")
        x, y = blobs(128, 0)
        callbacks = []
        if with_doctor:
            callbacks = [kt.callbacks.TrainingDoctor(blobs(32, 1), every=3, verbose=0)]
        model.fit(x, y, batch_size=32, epochs=2, shuffle=False, callbacks=callbacks, verbose=0)
        return [v.numpy() for v in model.variables]

    for a, b in zip(trained(False), trained(True), strict=True):
        np.testing.assert_array_equal(a, b)


def test_shuffled_labels_are_reported_as_misaligned():
    x, y = blobs(640, 0, shuffle_labels=True)
    probe = blobs(64, 1, shuffle_labels=True)
    model = compile_sparse(mlp(), keras.optimizers.Adam(1e-3))
    doctor, _ = run(model, x, y, probe=probe, check_labels=True)
    assert {"labels_misaligned", "not_learning"} <= codes(doctor)
    finding = next(f for f in doctor.findings if f.code == "labels_misaligned")
    assert (
        finding.step == 0
        and finding.evidence["speed_real"] >= 0.8 * (finding.evidence["speed_shuffled"])
    )


def test_learning_rate_10_is_too_high():
    x, y = blobs(640, 0)
    model = compile_sparse(mlp(), keras.optimizers.SGD(10.0))
    doctor, _ = run(model, x, y, probe=blobs(64, 1))
    assert "lr_too_high" in codes(doctor)
    finding = next(f for f in doctor.findings if f.code == "lr_too_high")
    assert finding.evidence["median_update_ratio"] > 1.0  # an update larger than the weights


def test_learning_rate_1e_9_is_too_low():
    x, y = blobs(640, 0)
    model = compile_sparse(mlp(), keras.optimizers.Adam(1e-9))
    doctor, _ = run(model, x, y, probe=blobs(64, 1))
    assert {"lr_too_low", "not_learning"} <= codes(doctor)
    low = next(f for f in doctor.findings if f.code == "lr_too_low")
    assert low.evidence["median_update_ratio"] < 1e-5


def test_frozen_batchnorm_with_unfitted_statistics():
    # Inputs with mean 3 and std 2 through a frozen, never-trained BN (mean 0, variance 1).
    x, y = blobs(640, 0, offset=3.0, scale=2.0)
    probe = blobs(64, 1, offset=3.0, scale=2.0)
    model = compile_sparse(mlp(batchnorm="frozen"), keras.optimizers.Adam(1e-3))
    doctor, _ = run(model, x, y, steps=40, probe=probe)
    finding = next(f for f in doctor.findings if f.code == "frozen_batchnorm_stats")
    # Expected: the median over channels of |probe mean - 0| / sqrt(1 + epsilon), the
    # frozen layer's moving statistics being its initial 0 and 1 (computed here in NumPy).
    offset = np.median(np.abs(probe[0].astype("float64").mean(axis=0))) / np.sqrt(1 + 1e-3)
    # float32 batch means of 64 values of order 5: relative error below 1e-6.
    assert finding.evidence["bn"]["mean_offset_in_std"] == pytest.approx(offset, rel=1e-5)


def test_frozen_batchnorm_without_probe_data():
    x, y = blobs(640, 0, offset=3.0, scale=2.0)
    model = compile_sparse(mlp(batchnorm="frozen"), keras.optimizers.Adam(1e-3))
    doctor, _ = run(model, x, y, steps=40)
    assert "frozen_batchnorm_stats" in codes(doctor)


def test_batchnorm_called_in_inference_mode_is_not_updating():
    x, y = blobs(640, 0)
    model = compile_sparse(mlp(batchnorm="inference_call"), keras.optimizers.Adam(1e-3))
    doctor, _ = run(model, x, y, steps=40)
    finding = next(f for f in doctor.findings if f.code == "batchnorm_not_updating")
    assert finding.evidence["layers"] == ["bn"]


def test_sigmoid_and_mse_head_on_ten_classes():
    x, y = blobs(640, 0)
    probe_x, probe_y = blobs(64, 1)
    onehot = np.eye(CLASSES, dtype="float32")
    model = mlp(head="sigmoid")
    model.compile(keras.optimizers.Adam(1e-3), "mse", jit_compile=JIT)
    doctor, _ = run(model, x, onehot[y], steps=40, probe=(probe_x, onehot[probe_y]))
    finding = next(f for f in doctor.findings if f.code == "loss_at_init")
    # Ten sigmoids start near 0.5 each, so the outputs sum to about 5, not 1.
    assert 3.0 < finding.evidence["mean_sum_of_outputs"] < 7.0
    assert finding.evidence["classes"] == CLASSES


def test_relu_layer_initialised_dead():
    x, y = blobs(640, 0)
    # A bias of -100 against pre-activations of order 10: every unit is zero for every input.
    model = mlp(hidden_kwargs={"bias_initializer": keras.initializers.Constant(-100.0)})
    compile_sparse(model, keras.optimizers.Adam(1e-3))
    doctor, _ = run(model, x, y, steps=40, probe=blobs(64, 1))
    finding = next(f for f in doctor.findings if f.code == "dead_units")
    assert finding.evidence == {"hidden2": 1.0}
    assert "vanishing_gradients" in codes(doctor)


def test_nan_from_log_of_zero_stops_training():
    x, y = blobs(640, 0)
    onehot = np.eye(CLASSES, dtype="float32")[y]

    def log_loss(y_true, y_pred):  # ReLU outputs are exactly zero for many classes
        return -ops.sum(y_true * ops.log(y_pred), axis=-1)

    model = mlp(head="relu")
    model.compile(keras.optimizers.Adam(1e-3), log_loss, jit_compile=JIT)
    doctor, history = run(model, x, onehot, steps=200)
    assert "non_finite" in codes(doctor)
    assert len(history.epoch) == 1  # stopped during the first epoch


def test_vanishing_gradients_in_a_deep_sigmoid_stack():
    keras.utils.set_random_seed(0)
    layers = [keras.Input((DIM,))]
    layers += [keras.layers.Dense(16, activation="sigmoid") for _ in range(12)]
    model = keras.Sequential(layers + [keras.layers.Dense(CLASSES, activation="softmax")])
    compile_sparse(model, keras.optimizers.SGD(0.01))
    x, y = blobs(640, 0)
    doctor, _ = run(model, x, y, steps=20, probe=blobs(64, 1))
    finding = next(f for f in doctor.findings if f.code == "vanishing_gradients")
    # Each sigmoid layer scales the gradient by at most 1/4 times the weights.
    ratio = finding.evidence["smallest_gradient_over_weight"]
    assert ratio < 1e-4 * finding.evidence["largest_gradient_over_weight"]


def test_findings_go_to_tensorboard_and_logs(tmp_path):
    x, y = blobs(640, 0)
    model = compile_sparse(mlp(), keras.optimizers.Adam(1e-9))
    doctor = kt.callbacks.TrainingDoctor(
        every=20, thresholds=FAST, log_dir=str(tmp_path), verbose=1
    )
    history = model.fit(x, y, batch_size=32, epochs=8, callbacks=[doctor], verbose=0)
    assert history.history["doctor_lr_too_low"][-1] == 1.0
    records = [json.loads(line) for line in open(tmp_path / "doctor" / "findings.jsonl")]
    assert {r["code"] for r in records} == codes(doctor)
    if importlib.util.find_spec("tensorboard"):
        assert glob.glob(str(tmp_path / "doctor" / "events.out.tfevents.*"))
    text = str(doctor.findings[0])
    assert "evidence:" in text and "fix:" in text


@pytest.mark.tensorflow
def test_under_mirrored_strategy():
    x, y = blobs(256, 0)
    with two_device_strategy().scope():
        model = mlp()
        model.compile(keras.optimizers.Adam(1e-9), "sparse_categorical_crossentropy")
    thresholds = {**FAST, "label_probe_steps": 20}
    doctor, _ = run(model, x, y, 45, blobs(32, 1), check_labels=True, thresholds=thresholds)
    assert "lr_too_low" in codes(doctor)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"every": 0}, ValueError, "every"),
        ({"stop_on": ("nan",)}, ValueError, "stop_on"),
        ({"thresholds": {"windw": 3}}, ValueError, "windw"),
        ({"thresholds": [1]}, TypeError, "thresholds"),
        ({"probe_data": np.zeros(3)}, TypeError, "probe_data"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        kt.callbacks.TrainingDoctor(**kwargs)


def test_probe_data_that_does_not_fit_the_loss():
    x, y = blobs(64, 0)
    model = compile_sparse(mlp(), "adam")
    doctor = kt.callbacks.TrainingDoctor((x[:8], {"wrong": y[:8]}), verbose=0)
    with pytest.raises(ValueError, match="probe_data"):
        model.fit(x, y, epochs=1, callbacks=[doctor], verbose=0)


def test_a_model_that_cannot_fit_its_probe_batch():
    # A linear softmax cannot fit labels that depend on products of inputs (XOR-like).
    rng = np.random.default_rng(0)
    x = rng.normal(size=(640, DIM)).astype("float32")
    y = ((x[:, 0] * x[:, 1] > 0) * 2 + (x[:, 2] * x[:, 3] > 0)).astype("int32")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((DIM,)), keras.layers.Dense(4, activation="softmax")])
    compile_sparse(model, "adam")
    doctor, _ = run(model, x, y, steps=20, probe=(x[:64], y[:64]), check_labels=True)
    finding = next(f for f in doctor.findings if f.code == "cannot_overfit_batch")
    assert finding.evidence["final_loss"] > 0.5 * np.log(4)  # about log 4 for 4 classes


def test_loss_growing_without_bound_is_diverging():
    # Least squares with standardised inputs: gradient descent diverges above a rate of
    # 2 / lambda_max(2/N X^T X), about 1; at 2.5 the error grows geometrically per step.
    rng = np.random.default_rng(0)
    x = rng.normal(size=(640, 4)).astype("float32")
    y = (x @ np.array([1.0, -2.0, 0.5, 3.0])).astype("float32")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(2.5), "mse", jit_compile=JIT)
    doctor, _ = run(model, x, y, steps=40)
    finding = next(f for f in doctor.findings if f.code == "diverging")
    assert finding.evidence["smoothed_loss"] > 5 * finding.evidence["best_smoothed_loss"]
