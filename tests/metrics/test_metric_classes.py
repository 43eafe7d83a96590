"""The `keras.metrics.Metric` classes of `kt.metrics` in `compile(metrics=...)`.

Accumulated over uneven batches, in `fit` and `evaluate`, on one device and under
`MirroredStrategy` over two replicas, each metric must give the mean over the whole data
set of its per-sample function (whose values are tested against independent references
in the function's own test file; `psnr` and `mask_iou` are checked here).
"""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf
from skimage.metrics import peak_signal_noise_ratio

import kerastricks as kt
from tests.helpers import check_config_round_trip, two_device_strategy

pytestmark = pytest.mark.backend_independent

NUM = 8
# One device: batches of 3, 3 and 2. Two replicas: batches of 4, 2 per replica (Keras 3.15
# with TF 2.21 fails in `fit` on a batch that splits unevenly over replicas, metrics or not:
# "Inputs to operation AddN ... must have the same size and shape").


def _depth_case(rng):
    true = rng.uniform(1.0, 100.0, (NUM, 6, 5, 1))  # some beyond the 80 m cap
    true[rng.random(true.shape) < 0.2] = 0.0  # missing ground truth
    true[2] = 0.0  # an image with no ground truth at all: left out of the mean
    pred = true * rng.uniform(0.5, 1.8, true.shape) + 0.5
    metrics = [
        kt.metrics.AbsRel(),
        kt.metrics.SqRel(median_scaling=False),
        kt.metrics.DepthRMSE(max_depth=50.0),
        kt.metrics.DepthRMSELog(),
        kt.metrics.DeltaAccuracy(exponent=1),
        kt.metrics.DeltaAccuracy(exponent=3, min_depth=2.0),
    ]

    def expected(y_true, y_pred, weights):
        values = {}
        for metric in metrics:
            key = metric.name
            result = kt.metrics.depth_metrics(
                y_true, y_pred, metric.min_depth, metric.max_depth, metric.median_scaling
            )
            counted = weights * (np.asarray(result["valid_pixels"]) > 0)
            values[key] = np.sum(np.asarray(result[key]) * counted) / np.sum(counted)
        return values

    return true, pred, metrics, expected


def _image_case(rng):
    true = rng.random((NUM, 12, 12, 2))
    pred = np.clip(true + rng.normal(0.0, 0.1, true.shape), 0.0, 1.0)
    metrics = [
        kt.metrics.SSIM(filter_size=5, filter_sigma=1.0),
        kt.metrics.MultiScaleSSIM(filter_size=3, power_factors=(0.4, 0.6), name="msssim"),
        kt.metrics.PSNR(max_val=1.0),
    ]

    def expected(y_true, y_pred, weights):
        per_sample = {
            "ssim": kt.metrics.ssim(y_true, y_pred, filter_size=5, filter_sigma=1.0),
            "msssim": kt.metrics.ms_ssim(y_true, y_pred, filter_size=3, power_factors=(0.4, 0.6)),
            "psnr": kt.metrics.psnr(y_true, y_pred),
        }
        return {k: np.sum(np.asarray(v) * weights) / np.sum(weights) for k, v in per_sample.items()}

    return true, pred, metrics, expected


def _mask_case(rng):
    true = (rng.random((NUM, 5, 5, 1)) < 0.3).astype("float64")
    true[1] = 0.0  # an empty true mask
    pred = np.clip(true + rng.normal(0.0, 0.4, true.shape), 0.0, 1.0)
    pred[1] = 0.0  # both empty: IoU 1

    def expected(y_true, y_pred, weights):
        values = np.asarray(kt.metrics.mask_iou(y_true, y_pred))
        return {"mask_iou": np.sum(values * weights) / np.sum(weights)}

    return true, pred, [kt.metrics.MaskIoU()], expected


def _trajectory_case(rng):
    true = np.cumsum(rng.normal(0.0, 1.0, (NUM, 3, 3)), axis=1)
    pred = 0.7 * true + rng.normal(0.0, 0.1, true.shape)

    def expected(y_true, y_pred, weights):
        values = np.asarray(kt.metrics.trajectory_error(y_true, y_pred))
        return {"trajectory_error": np.sum(values * weights) / np.sum(weights)}

    return true, pred, [kt.metrics.TrajectoryError()], expected


CASES = {
    "depth": _depth_case,
    "images": _image_case,
    "masks": _mask_case,
    "trajectory": _trajectory_case,
}


def _identity_model(shape, metrics, weighted=False):
    """A model whose output is its input (identity `Dense`, learning rate 0); with
    `weighted`, the metrics are `weighted_metrics` (only those see `sample_weight`)."""
    inputs = keras.Input(shape)
    outputs = keras.layers.Dense(shape[-1], kernel_initializer="identity")(inputs)
    model = keras.Model(inputs, outputs)
    kind = "weighted_metrics" if weighted else "metrics"
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse", **{kind: metrics})
    return model


@pytest.mark.tensorflow
@pytest.mark.parametrize("distributed", [False, True], ids=["one_device", "mirrored"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_fit_and_evaluate_give_the_function_over_the_whole_set(case, distributed):
    rng = np.random.default_rng(sorted(CASES).index(case))
    true, pred, metrics, expected = CASES[case](rng)
    true, pred = true.astype("float32"), pred.astype("float32")
    weights = rng.uniform(0.0, 2.0, NUM).astype("float32")
    # Shaped [N, 1, ...] to broadcast against the per-pixel "mse" loss; the metrics flatten it.
    loss_weights = weights.reshape((NUM,) + (1,) * (true.ndim - 2))
    batch_size = 4 if distributed else 3
    scope = two_device_strategy().scope() if distributed else tf.device("/CPU:0")
    with scope:
        model = _identity_model(pred.shape[1:], metrics)
        copies = [type(m).from_config(m.get_config()) for m in metrics]
        weighted_model = _identity_model(pred.shape[1:], copies, weighted=True)
    # The model passes `pred` through unchanged: float32 identity kernel, zero bias.
    history = model.fit(pred, true, batch_size=batch_size, epochs=1, verbose=0)
    evaluated = model.evaluate(pred, true, batch_size=batch_size, verbose=0, return_dict=True)
    weighted = weighted_model.evaluate(
        pred, true, sample_weight=loss_weights, batch_size=batch_size, verbose=0, return_dict=True
    )
    unweighted = expected(true, pred, np.ones(NUM, "float32"))
    with_weights = expected(true, pred, weights)
    for name, value in unweighted.items():
        # float32 sums of 7 values of order 1 to 100: rtol 1e-5 is ~100 float32 ulps.
        np.testing.assert_allclose(history.history[name][0], value, rtol=1e-5, err_msg=name)
        np.testing.assert_allclose(evaluated[name], value, rtol=1e-5, err_msg=name)
        np.testing.assert_allclose(weighted[name], with_weights[name], rtol=1e-5, err_msg=name)


@pytest.mark.parametrize("case", sorted(CASES))
def test_metrics_serialize_and_survive_a_keras_save(case, tmp_path):
    rng = np.random.default_rng(20)
    true, pred, metrics, _ = CASES[case](rng)
    true, pred = true.astype("float32"), pred.astype("float32")
    for metric in metrics:
        config = metric.get_config()
        arguments = {k: v for k, v in config.items() if k not in ("name", "dtype")}
        check_config_round_trip(type(metric), arguments)
        assert keras.saving.get_registered_name(type(metric)) == (
            f"kerastricks>{type(metric).__name__}"
        )
    model = _identity_model(pred.shape[1:], metrics)
    before = model.evaluate(pred, true, verbose=0, return_dict=True)
    path = os.path.join(tmp_path, "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    after = loaded.evaluate(pred, true, verbose=0, return_dict=True)
    assert sorted(after) == sorted(before)
    for name in before:
        np.testing.assert_allclose(after[name], before[name], rtol=1e-6, err_msg=name)


def test_psnr_matches_scikit_image():
    rng = np.random.default_rng(21)
    x = rng.random((3, 10, 9, 3))
    y = np.clip(x + rng.normal(0.0, 0.05, x.shape), 0.0, 1.0)
    # Expected: scikit-image's PSNR of each image (data_range = max_val).
    expected = [peak_signal_noise_ratio(a, b, data_range=1.0) for a, b in zip(x, y, strict=True)]
    # float64 reaches 1e-12. JAX computes in float32 (x64 off): the mean of 270 squared
    # errors is within 270 * 6e-8 = 1.6e-5 relative, which moves 10 log10(1 / mse) at
    # ~26 dB by at most 4.34 * 1.6e-5 / 26 = 2.7e-6 relative.
    rtol = 3e-6 if keras.backend.backend() == "jax" else 1e-12
    np.testing.assert_allclose(kt.metrics.psnr(x, y), expected, rtol=rtol)
    x8, y8 = (x * 255).astype("uint8"), (y * 255).astype("uint8")
    expected8 = [peak_signal_noise_ratio(a, b, data_range=255) for a, b in zip(x8, y8, strict=True)]
    # float32 MSE of integers: relative error ~1e-7, PSNR error below 1e-5 dB.
    np.testing.assert_allclose(kt.metrics.psnr(x8, y8, max_val=255), expected8, atol=1e-4)


def test_mask_iou_matches_a_numpy_loop():
    rng = np.random.default_rng(22)
    true = (rng.random((5, 4, 6)) < 0.4).astype("float32")
    true[0] = 0.0
    pred = rng.random((5, 4, 6)).astype("float32")
    pred[0] = 0.1
    # Expected: |T & P| / |T | P| per sample with P = pred > 0.3, and 1 where both are empty.
    expected = []
    for t, p in zip(true > 0.3, pred > 0.3, strict=True):
        union = np.logical_or(t, p).sum()
        expected.append(np.logical_and(t, p).sum() / union if union else 1.0)
    np.testing.assert_allclose(kt.metrics.mask_iou(true, pred, threshold=0.3), expected, rtol=1e-6)


def test_bad_arguments_raise_at_construction():
    with pytest.raises(ValueError, match="`exponent` must be >= 1 and <= 3.*Received: exponent=4"):
        kt.metrics.DeltaAccuracy(exponent=4)
    with pytest.raises(TypeError, match="`median_scaling` must be a bool"):
        kt.metrics.AbsRel(median_scaling=1)
    with pytest.raises(ValueError, match="`max_val` must be > 0"):
        kt.metrics.PSNR(max_val=0)
    with pytest.raises(ValueError, match="`window` must be one of"):
        kt.metrics.SSIM(window="disk")
    with pytest.raises(TypeError, match="`threshold` must be a real number"):
        kt.metrics.MaskIoU(threshold="half")
    with pytest.raises(ValueError, match="same shape"):
        kt.metrics.mask_iou(np.zeros((2, 3)), np.zeros((2, 4)))


def test_region_similarity_moved_to_metrics_and_the_old_name_warns():
    truth = np.array([[[1, 1, 0, 0]], [[0, 1, 1, 0]]])
    copied = np.array([[[1, 1, 0, 0]], [[1, 1, 0, 0]]])
    with pytest.warns(DeprecationWarning, match="use `kt.metrics.region_similarity`"):
        old = kt.tracking.region_similarity(truth, copied)
    # Expected: frame 1 has intersection 1 and union 3.
    np.testing.assert_allclose(old, [1 / 3])
    np.testing.assert_allclose(kt.metrics.region_similarity(truth, copied), [1 / 3])
