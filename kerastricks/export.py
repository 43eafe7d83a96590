"""Shipping a trained model: a SavedModel for serving, and checks that exports round-trip.

`export_saved_model` writes a TensorFlow SavedModel whose `serving_default` signature
takes named float32 inputs and returns named float32 predictions, leaving out everything
that only training needs. `check_saved_model` reloads it with `tf.saved_model.load` and
compares its outputs with the model's; `check_keras_round_trip` does the same for a
`.keras` file loaded with `safe_mode=True`.
"""

import os
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from kerastricks._checks import check_number, fail
from kerastricks._serving_model import ServingModel, named

__all__ = ["check_keras_round_trip", "check_saved_model", "export_saved_model"]

SIGNATURE = "serving_default"


def export_saved_model(model: keras.Model, path, outputs=None, verbose: bool = False) -> Path:
    """Writes `model` as a SavedModel with one serving signature of named tensors.

    The signature `serving_default` takes one float32 tensor per model input, named after
    the input (the key of a dict input, else the name of its `keras.Input` layer, which a
    `.keras` file keeps: name your inputs), and returns a dict of float32 predictions
    named after the outputs (the keys of a dict output, else the output layers' names).
    Float inputs are float32 even when the model computes in
    `mixed_float16` (they are cast inside), and float outputs are cast to float32; integer
    inputs keep their dtype. The model runs with `training=False`.

    Only what the served outputs need is written: the export goes through a functional
    model from the inputs to the chosen outputs, so heads that are not served, the
    optimizer, and weighting layers that only combine losses during training (such as the
    task uncertainties of `kt.models.MultiTaskModel`) are left out.

    Args:
        model: a built functional or `Sequential` model (one with symbolic `inputs`);
            subclassed models without them can use Keras's own `model.export`.
        path: the SavedModel folder to write.
        outputs: the names of the outputs to serve, or `None` for every output.
            Defaults to `None`.
        verbose: print Keras's summary of the export. Defaults to `False`.

    Returns:
        `path`, as a `pathlib.Path`.

    Raises:
        TypeError: `model` is not a `keras.Model`; `outputs` is not a list of names.
        ValueError: the model has no symbolic inputs; an unknown or repeated output name.

    Example:

    >>> import tempfile, keras, numpy as np
    >>> import tensorflow as tf
    >>> import kerastricks as kt
    >>> inputs = keras.Input((3,), name="features")
    >>> hidden = keras.layers.Dense(4, name="trunk")(inputs)
    >>> model = keras.Model(inputs, {"score": keras.layers.Dense(1)(hidden),
    ...                              "auxiliary": keras.layers.Dense(2)(hidden)})
    >>> path = kt.export.export_saved_model(model, tempfile.mkdtemp(), outputs=["score"])
    >>> serve = tf.saved_model.load(str(path)).signatures["serving_default"]
    >>> sorted(serve.structured_outputs)
    ['score']
    >>> serve(features=tf.zeros((2, 3)))["score"].shape
    TensorShape([2, 1])
    """
    serving = ServingModel(model, outputs)
    specs = [
        tf.TensorSpec((None, *tensor.shape[1:]), _serving_dtype(tensor.dtype), name=name)
        for name, tensor in serving.named_inputs.items()
    ]

    def serve(*tensors):
        feed = dict(zip(serving.named_inputs, tensors, strict=True))
        feed = {n: tf.cast(t, serving.named_inputs[n].dtype) for n, t in feed.items()}
        predictions = serving.model(serving.pack_inputs(feed), training=False)
        return {n: _to_serving_dtype(t) for n, t in predictions.items()}

    archive = keras.export.ExportArchive()
    archive.track(serving.model)
    archive.add_endpoint("serve", tf.function(serve, input_signature=specs))
    path = Path(path)
    archive.write_out(os.fspath(path), verbose=verbose)
    return path


def check_saved_model(
    model: keras.Model,
    path,
    sample,
    outputs=None,
    atol: float | None = None,
    rtol: float | None = None,
) -> dict:
    """Reloads a SavedModel with `tf.saved_model.load` and compares it with `model`.

    Feeds `sample` to the `serving_default` signature and to `model(sample,
    training=False)`, and compares every served output (in float32).

    The default tolerance follows the least precise float dtype the model computes in
    (its layers' `compute_dtype`): `1e-6` in float32; two steps of the dtype at
    magnitude 1 in reduced precision, `2**-9` for float16 and `2**-6` for bfloat16, for
    both `atol` and `rtol`. The served graph runs the same operations as the eager model,
    but its kernels may round differently: in float32 the outputs agree to the last
    digits, in `mixed_float16` they may differ by a float16 step or two (seen on CPUs with
    native float16 arithmetic), which is rounding, not a different model.

    Args:
        model: the Keras model that was exported.
        path: the SavedModel folder written by `export_saved_model`.
        sample: a batch of inputs: an array, or a dict by input name, or a list in the
            order of `model.inputs`.
        outputs: the served output names, as given to `export_saved_model`. Defaults to
            `None` (every output).
        atol: absolute tolerance. Defaults to `None`: by the model's compute dtype
            (above).
        rtol: relative tolerance. Defaults to `None`: by the model's compute dtype.

    Returns:
        `{output name: largest absolute difference}`.

    Raises:
        AssertionError: the SavedModel's outputs differ from the model's, or it serves
            other outputs.
        ValueError: `sample` does not name the model's inputs; a bad tolerance.

    Example:

    >>> import tempfile, keras, numpy as np
    >>> import kerastricks as kt
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="logits")])
    >>> path = kt.export.export_saved_model(model, tempfile.mkdtemp())
    >>> kt.export.check_saved_model(model, path, np.ones((4, 3), "float32"))
    {'logits': 0.0}
    """
    default = _default_tolerance(model)
    atol = default if atol is None else check_number("atol", atol, minimum=0.0)
    rtol = default if rtol is None else check_number("rtol", rtol, minimum=0.0)
    serving = ServingModel(model, outputs)
    feed = serving.name_inputs(sample)
    predictions = named(model(serving.pack_inputs(feed), training=False), serving.output_names)
    expected = {n: np.asarray(_to_serving_dtype(predictions[n])) for n in serving.served}
    signature = tf.saved_model.load(os.fspath(path)).signatures[SIGNATURE]
    specs = signature.structured_input_signature[1]
    served = signature(**{n: tf.convert_to_tensor(v, specs[n].dtype) for n, v in feed.items()})
    if sorted(served) != sorted(expected):
        raise AssertionError(
            f"The SavedModel serves outputs {sorted(served)}, the model {sorted(expected)}."
        )
    return {
        n: _compare(f"output {n!r}", served[n].numpy(), expected[n], atol, rtol) for n in expected
    }


def check_keras_round_trip(model: keras.Model, path, sample, atol: float = 0.0) -> keras.Model:
    """Saves `model` to a `.keras` file, loads it with `safe_mode=True`, compares outputs.

    Args:
        model: the model to save.
        path: the `.keras` file to write.
        sample: a batch of inputs for both models.
        atol: absolute tolerance. Defaults to `0.0` (identical outputs).

    Returns:
        The loaded model.

    Raises:
        AssertionError: the loaded model's outputs differ.
        ValueError: `path` does not end in `.keras`.

    Example:

    >>> import os, tempfile, keras, numpy as np
    >>> import kerastricks as kt
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    >>> path = os.path.join(tempfile.mkdtemp(), "model.keras")
    >>> loaded = kt.export.check_keras_round_trip(model, path, np.ones((4, 3), "float32"))
    >>> type(loaded).__name__
    'Sequential'
    """
    if not os.fspath(path).endswith(".keras"):
        fail("`path` must end in `.keras`.", "path", os.fspath(path))
    atol = check_number("atol", atol, minimum=0.0)
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    before = keras.tree.flatten(model(sample, training=False))
    after = keras.tree.flatten(loaded(sample, training=False))
    if len(before) != len(after):
        raise AssertionError(f"The loaded model has {len(after)} outputs, not {len(before)}.")
    for index, (a, b) in enumerate(zip(after, before, strict=True)):
        _compare(f"output {index}", np.asarray(a), np.asarray(b), atol, 0.0)
    return loaded


# Two steps (machine epsilons) at magnitude 1 of each reduced-precision float dtype:
# float16 has 10 fraction bits (eps 2**-10), bfloat16 7 (eps 2**-7).
REDUCED_PRECISION_TOLERANCE = {"float16": 2.0**-9, "bfloat16": 2.0**-6}


def _default_tolerance(model: keras.Model) -> float:
    """`check_saved_model`'s default tolerance for `model`: by its least precise dtype."""
    dtypes, layers = set(), [model]
    while layers:
        layer = layers.pop()
        dtypes.add(keras.backend.standardize_dtype(layer.compute_dtype))
        layers.extend(getattr(layer, "layers", []))
    return max(REDUCED_PRECISION_TOLERANCE.get(d, 1e-6) for d in dtypes)


def _serving_dtype(dtype):
    return tf.float32 if "float" in keras.backend.standardize_dtype(dtype) else tf.as_dtype(dtype)


def _to_serving_dtype(tensor):
    return tf.cast(tensor, tf.float32) if tensor.dtype.is_floating else tensor


def _compare(what, actual, expected, atol, rtol):
    difference = float(np.max(np.abs(actual.astype("float64") - expected))) if actual.size else 0.0
    if actual.shape != expected.shape or not np.allclose(actual, expected, atol=atol, rtol=rtol):
        raise AssertionError(
            f"The reloaded {what} differs from the model's: shapes {actual.shape} and "
            f"{expected.shape}, largest absolute difference {difference:g} "
            f"(atol={atol}, rtol={rtol})."
        )
    return difference
