"""Shared checks that every kerastricks layer and loss goes through.

`run_layer_test` and `run_loss_test` check the contract of DESIGN.md for one object:
complete `get_config` and `from_config` round trip, eager and symbolic calls with
matching shapes, a `.keras` save and `safe_mode=True` load giving identical outputs,
one `fit` step with `jit_compile=True` (and under `MirroredStrategy` over the two logical
CPUs that `conftest.py` creates), and a `fit` step and a forward pass under
`mixed_float16`. Whole trainings on real architectures (default all-reduce, XLA, mixed
precision, save/resume) are compared by `kt.testing` in `tests/testing/`.
"""

import json
import os
import tempfile

import keras
import numpy as np
from keras import ops

__all__ = [
    "assert_copied",
    "check_config_round_trip",
    "load_recipe",
    "run_layer_test",
    "run_loss_test",
    "two_device_strategy",
]


def two_device_strategy():
    """A `MirroredStrategy` over the two logical CPUs set up in `conftest.py`.

    It reduces gradients by copying them to one device (`ReductionToOneDevice`) instead
    of with collective all-reduce: every `MirroredStrategy` in a process starts its
    collective instance keys at the same number, so the second strategy of a test session
    fails with "Shape mismatch in the collective instance" once it trains a model whose
    weights differ from the first one's.
    """
    import tensorflow as tf

    devices = [d.name for d in tf.config.list_logical_devices("CPU")][:2]
    assert len(devices) == 2, "conftest.py should have split the CPU into 2 logical devices"
    return tf.distribute.MirroredStrategy(
        devices, cross_device_ops=tf.distribute.ReductionToOneDevice()
    )


def assert_copied(out, expected):
    """Labels copied by attention (a softmax of weight 1 on one source): equal to one ulp.

    On the machines of earlier runs every copy was exact; on an AVX2 machine without
    AVX-512 some copies came out one float32 ulp low (0.99999994 for 1.0; 5.96e-8 on
    0.5157). The softmax weight there is exactly 1 (checked), so the rounding is in the CPU
    kernel of the weighted sum; one ulp (2**-23 relative, at most) is the bound.
    """
    np.testing.assert_allclose(out, expected, rtol=2.0**-23, atol=0)


def check_config_round_trip(cls, init_kwargs):
    """Every constructor argument is in `get_config`, which is JSON-able and round-trips."""
    obj = cls(**init_kwargs)
    config = obj.get_config()
    missing = sorted(set(init_kwargs) - set(config))
    assert not missing, f"get_config() of {cls.__name__} lacks constructor arguments {missing}"
    revived = cls.from_config(json.loads(json.dumps(config)))
    assert _canonical(revived.get_config()) == _canonical(config)
    registered = keras.saving.get_registered_name(cls)
    assert registered.startswith("kerastricks>"), f"{cls.__name__} is not registered: {registered}"
    return obj


def run_layer_test(
    layer_cls,
    init_kwargs,
    input_data,
    expected_output=None,
    *,
    atol=1e-6,
    rtol=1e-6,
    deterministic=True,
    run_training=True,
    run_distributed=True,
    run_mixed_precision=True,
):
    """Runs the layer contract; returns the eager output (NumPy, same structure as output).

    Args:
        layer_cls: the layer class.
        init_kwargs: constructor arguments.
        input_data: a NumPy array, or a list or dict of them (batch first).
        expected_output: optional NumPy reference for the eager output.
        deterministic: outputs are compared for exact equality after `.keras` reload;
            set `False` for random layers (then only shapes are compared).
        run_training: run one `fit` step (MSE towards zeros) with `jit_compile=True`.
        run_distributed: also run the `fit` step under a two-device `MirroredStrategy`.
        run_mixed_precision: build the layer with `dtype="mixed_float16"`, run one `fit`
            step with it (if `run_training`), and check that the output is finite and in
            float16 while variables stay float32.
    """
    check_config_round_trip(layer_cls, init_kwargs)
    inputs = keras.tree.map_structure(ops.convert_to_tensor, input_data)

    layer = layer_cls(**init_kwargs)
    eager = keras.tree.map_structure(ops.convert_to_numpy, layer(inputs))
    for array in keras.tree.flatten(eager):
        assert np.all(np.isfinite(array)), "eager output is not finite"
    if expected_output is not None:
        keras.tree.map_structure(
            lambda a, b: np.testing.assert_allclose(a, b, atol=atol, rtol=rtol),
            eager,
            expected_output,
        )
    input_shapes = keras.tree.map_structure(lambda x: tuple(x.shape), input_data)
    expected_shapes = layer.compute_output_shape(input_shapes)
    _assert_shapes(expected_shapes, eager)

    model = _wrap_in_model(layer, input_data)
    _assert_shapes(model.output_shape, eager)
    model_out = _predict(model, inputs)
    if deterministic:
        _assert_same(model_out, eager, atol=atol, rtol=rtol)
    _check_saving(model, inputs, model_out, deterministic)

    if run_training:
        _fit_one_step(model, input_data, eager, jit_compile=True)
        if run_distributed and keras.backend.backend() == "tensorflow":  # tf.distribute
            # XLA cannot place one compiled step on two *logical* CPUs (TensorFlow's XLA
            # known issue "tf.Variable on a different device"), so the mirrored step runs
            # as a plain tf.function; on GPUs each replica's step is compiled as usual.
            with two_device_strategy().scope():
                distributed = _wrap_in_model(layer_cls(**init_kwargs), input_data)
                _fit_one_step(distributed, input_data, eager, jit_compile=False)

    if run_mixed_precision:
        mixed = layer_cls(**init_kwargs, dtype="mixed_float16")
        if run_training:  # a whole fit step: loss scaling, float32 variables and updates
            _fit_one_step(_wrap_in_model(mixed, input_data), input_data, eager, jit_compile=True)
        out = mixed(inputs)
        for tensor in keras.tree.flatten(out):
            dtype = keras.backend.standardize_dtype(tensor.dtype)
            if "float" in dtype:
                assert dtype == "float16", f"mixed_float16 output is {dtype}"
            assert np.all(np.isfinite(ops.convert_to_numpy(tensor)))
        for variable in mixed.weights:
            if "float" in variable.dtype:
                assert variable.dtype == "float32", f"{variable.path} is {variable.dtype}"
    return eager


def run_loss_test(
    loss_cls,
    init_kwargs,
    y_true,
    y_pred,
    expected_per_sample=None,
    *,
    atol=1e-6,
    rtol=1e-5,
    run_training=True,
):
    """Checks a `keras.losses.Loss` subclass: config, reductions, sample weights, saving.

    `expected_per_sample` is the reference loss of each sample, computed independently
    by the test; reductions and sample weights are checked against it.
    """
    check_config_round_trip(loss_cls, init_kwargs)
    per_sample = ops.convert_to_numpy(loss_cls(**init_kwargs, reduction="none")(y_true, y_pred))
    assert np.all(np.isfinite(per_sample)), "per-sample loss is not finite"
    if expected_per_sample is not None:
        np.testing.assert_allclose(per_sample, expected_per_sample, atol=atol, rtol=rtol)
    reference = np.asarray(per_sample, dtype=np.float64)
    batch = reference.shape[0]
    mean = float(ops.convert_to_numpy(loss_cls(**init_kwargs)(y_true, y_pred)))
    np.testing.assert_allclose(mean, reference.mean(), atol=atol, rtol=rtol)
    total = float(ops.convert_to_numpy(loss_cls(**init_kwargs, reduction="sum")(y_true, y_pred)))
    np.testing.assert_allclose(total, reference.sum(), atol=atol * batch, rtol=rtol)
    weights = np.linspace(0.0, 2.0, batch).astype("float32")
    weighted = float(
        ops.convert_to_numpy(loss_cls(**init_kwargs)(y_true, y_pred, sample_weight=weights))
    )
    weights_b = weights.reshape((batch,) + (1,) * (reference.ndim - 1))
    np.testing.assert_allclose(
        weighted, (reference * weights_b).sum() / reference.size, atol=atol, rtol=rtol
    )
    if keras.backend.backend() != "jax":  # JAX has no float64 unless jax_enable_x64 is set
        loss64 = loss_cls(**init_kwargs, dtype="float64")(y_true, y_pred)
        dtype = keras.backend.standardize_dtype(loss64.dtype)
        assert dtype == "float64", f"dtype='float64' gave {dtype}"

    if run_training:
        y_pred = np.asarray(y_pred, dtype="float32")
        inputs = keras.Input(y_pred.shape[1:])
        outputs = keras.layers.Dense(y_pred.shape[-1], kernel_initializer="identity")(inputs)
        model = keras.Model(inputs, outputs)
        model.compile(optimizer="sgd", loss=loss_cls(**init_kwargs), jit_compile=True)
        history = model.fit(y_pred, y_true, batch_size=batch, epochs=1, verbose=0)
        assert np.isfinite(history.history["loss"][0])
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "model.keras")
            model.save(path)
            loaded = keras.saving.load_model(path, safe_mode=True)
        assert type(loaded.loss) is loss_cls
        assert _canonical(loaded.loss.get_config()) == _canonical(model.loss.get_config())
    return per_sample


def _wrap_in_model(layer, input_data):
    def make_input(x, name=None):
        return keras.Input(shape=np.shape(x)[1:], dtype=str(np.asarray(x).dtype), name=name)

    if isinstance(input_data, dict):
        # Functional models warn unless dict inputs are named after their keys.
        symbolic = {key: make_input(value, name=key) for key, value in input_data.items()}
    else:
        symbolic = keras.tree.map_structure(make_input, input_data)
    return keras.Model(symbolic, layer(symbolic))


def _predict(model, inputs):
    return keras.tree.map_structure(ops.convert_to_numpy, model(inputs))


def _check_saving(model, inputs, before, deterministic):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.keras")
        model.save(path)
        loaded = keras.saving.load_model(path, safe_mode=True)
    after = _predict(loaded, inputs)
    if deterministic:
        keras.tree.map_structure(np.testing.assert_array_equal, after, before)
    else:
        keras.tree.map_structure(
            lambda a, b: np.testing.assert_equal(a.shape, b.shape), after, before
        )


def _fit_one_step(model, input_data, outputs, jit_compile):
    float_outputs = all("float" in str(np.asarray(o).dtype) for o in keras.tree.flatten(outputs))
    if not float_outputs:
        raise AssertionError(
            "run_layer_test trains towards zeros with MSE, which needs float outputs; this "
            "layer returns integers: pass run_training=False and test its training apart."
        )
    targets = keras.tree.map_structure(np.zeros_like, outputs)
    model.compile(optimizer="sgd", loss="mse", jit_compile=jit_compile)
    batch = len(keras.tree.flatten(input_data)[0])
    history = model.fit(input_data, targets, batch_size=batch, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][-1]), "fit step gave a non-finite loss"


def _assert_shapes(expected, actual):
    """Compares shapes; `None` in `expected` (a symbolic batch or dynamic axis) matches any."""
    actual_shapes = [tuple(np.shape(a)) for a in keras.tree.flatten(actual)]
    expected_shapes = _flatten_shapes(expected)
    assert len(actual_shapes) == len(expected_shapes), (expected, actual_shapes)
    for e, a in zip(expected_shapes, actual_shapes, strict=True):
        assert len(e) == len(a), f"expected shape {e}, got {a}"
        for de, da in zip(e, a, strict=True):
            assert de is None or de == da, f"expected shape {e}, got {a}"


def _flatten_shapes(shapes):
    if isinstance(shapes, dict):
        return [s for key in sorted(shapes) for s in _flatten_shapes(shapes[key])]
    if isinstance(shapes, list | tuple) and shapes and isinstance(shapes[0], list | tuple | dict):
        return [s for item in shapes for s in _flatten_shapes(item)]
    return [tuple(shapes)]


def _assert_same(a, b, atol, rtol):
    keras.tree.map_structure(
        lambda x, y: np.testing.assert_allclose(x, y, atol=atol, rtol=rtol), a, b
    )


def _canonical(config):
    return json.dumps(config, sort_keys=True, default=str)


def load_recipe(name):
    """Imports `recipes/NAME.py` (recipes are scripts, not a package) and returns the module."""
    import importlib.util

    from kerastricks.cli import recipe_paths

    spec = importlib.util.spec_from_file_location(f"recipe_{name}", recipe_paths()[name])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def input_layer_names(model) -> list:
    """The names of a model's `InputLayer`s, in the order of `model.inputs`.

    A functional model's input tensors carry their `keras.Input` layer's name; a
    `Sequential` model's tensor gets a fresh name in every process, and its config keeps
    the layer's.
    """
    if isinstance(model, keras.Sequential):
        return [model.get_config()["layers"][0]["config"]["name"]]
    return [tensor.name for tensor in model.inputs]


def check_recipe_exports(folder, sample, name="model", served=None, atol=1e-5, rtol=1e-5):
    """A recipe's shipped model, checked from its files alone, without kerastricks's export code.

    Loads `folder/{name}.keras` with `safe_mode=True` and the SavedModel next to it with
    `tf.saved_model.load`, feeds `sample` to both, and asserts that every served output
    (all, or those in `served`) equals the Keras model's output of that name. Returns the
    loaded Keras model.
    """
    folder = os.fspath(folder)
    loaded = keras.saving.load_model(os.path.join(folder, f"{name}.keras"), safe_mode=True)
    saved = "saved_model" if name == "model" else f"{name}_saved_model"
    import tensorflow as tf

    signature = tf.saved_model.load(os.path.join(folder, saved)).signatures["serving_default"]
    names = input_layer_names(loaded)
    values = sample if isinstance(sample, list | tuple) else [sample]
    specs = signature.structured_input_signature[1]
    assert sorted(specs) == sorted(names), (sorted(specs), names)
    served_outputs = signature(
        **{n: tf.constant(np.asarray(v), specs[n].dtype) for n, v in zip(names, values)}
    )
    expected = loaded(sample if len(values) > 1 else values[0], training=False)
    if not isinstance(expected, dict):
        flat = expected if isinstance(expected, list | tuple) else [expected]
        # A Sequential model's one output is named after its last layer.
        names = getattr(loaded, "output_names", None) or [loaded.layers[-1].name]
        expected = dict(zip(names, flat, strict=True))
    assert sorted(served_outputs) == sorted(served or expected), sorted(served_outputs)
    for key, value in served_outputs.items():
        np.testing.assert_allclose(
            value.numpy(), np.asarray(expected[key], "float32"), atol=atol, rtol=rtol
        )
    return loaded


def one_line_usage_error(capsys, main, argv) -> str:
    """Runs a recipe's `main(argv)`, checks it exits with code 2 after one line on stderr,
    and returns that line."""
    import pytest

    with pytest.raises(SystemExit) as exit:
        main(argv)
    assert exit.value.code == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def write_sfm_sequences(root, frame_size=(8, 24), windows=3, folders=("drive_a", "drive_b")):
    """A tiny prepared-sequence folder in SfMLearner's / vid2depth's layout.

    Per folder, `windows` windows of 3 frames (each `frame_size`) side by side in one JPEG:
    a seeded random texture sliding 1 px per frame; `<frame>_cam.txt` written as the
    scripts write it (`%f,0.,%f,0.,%f,%f,0.,0.,1.`), with `fx = 20 + folder index`; the
    last window of each folder in `val.txt`, the others in `train.txt`. Returns
    `{"train": [(folder, frame)], "val": [...]}`.
    """
    from PIL import Image

    height, width = frame_size
    rng = np.random.default_rng(0)
    listed = {"train": [], "val": []}
    for f, folder in enumerate(folders):
        (root / folder).mkdir(parents=True)
        texture = rng.integers(0, 256, (height, width + windows + 2, 3), dtype=np.uint8)
        for j in range(windows):
            frame = f"{j + 1:010d}"
            strip = np.concatenate([texture[:, j + k : j + k + width] for k in range(3)], 1)
            Image.fromarray(strip).save(root / folder / f"{frame}.jpg", quality=95)
            fx, fy, cx, cy = 20.0 + f, 20.0, (width - 1) / 2, (height - 1) / 2
            camera = "%f,0.,%f,0.,%f,%f,0.,0.,1." % (fx, cx, fy, cy)  # noqa: UP031 - theirs
            (root / folder / f"{frame}_cam.txt").write_text(camera)
            listed["val" if j == windows - 1 else "train"].append((folder, frame))
    for split, pairs in listed.items():
        (root / f"{split}.txt").write_text("".join(f"{a} {b}\n" for a, b in pairs))
    return listed
