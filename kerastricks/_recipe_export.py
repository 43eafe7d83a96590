"""A recipe's shipped model: a `.keras` file and a SavedModel, each reloaded and checked.

Part of `kt.recipe_utils` (import it from there).
"""

from pathlib import Path

__all__ = ["save_and_export"]


def save_and_export(
    model, output, sample, outputs=None, name: str = "model", export: bool = True
) -> dict:
    """Ships a recipe's model: a checked `.keras` file and a checked SavedModel.

    Writes `output/{name}.keras`, loads it back with `safe_mode=True` and checks that its
    outputs on `sample` are identical (`kt.export.check_keras_round_trip`); then, if
    `export`, writes `output/saved_model` (`"model"`) or `output/{name}_saved_model` with
    `kt.export.export_saved_model` (named float32 inputs and outputs) and checks that
    `tf.saved_model.load` serves the model's outputs on `sample`
    (`kt.export.check_saved_model`). A recipe that returns has shipped a model that reloads.

    Args:
        model: a built functional or `Sequential` model.
        output: the output folder.
        sample: a batch of inputs, as `model` takes them.
        outputs: the output names to serve in the SavedModel, or `None` for all.
            Defaults to `None`.
        name: the file stem. Defaults to `"model"`.
        export: also write and check the SavedModel. Defaults to `True`.

    Returns:
        `{"keras": path, "saved_model": path or None, "saved_model_max_abs_diff":
        {output: difference}}` with paths as strings.

    Raises:
        AssertionError: a reloaded model's outputs differ from `model`'s.

    Example:

    >>> import tempfile, keras, numpy as np
    >>> import kerastricks as kt
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="logits")])
    >>> shipped = kt.recipe_utils.save_and_export(model, tempfile.mkdtemp(), np.ones((4, 3)))
    >>> shipped["saved_model_max_abs_diff"]
    {'logits': 0.0}
    """
    from kerastricks.export import check_keras_round_trip, check_saved_model, export_saved_model

    output = Path(output)
    output.mkdir(parents=True, exist_ok=True)
    keras_path = output / f"{name}.keras"
    check_keras_round_trip(model, keras_path, sample)
    result = {"keras": str(keras_path), "saved_model": None, "saved_model_max_abs_diff": {}}
    if export:
        folder = output / ("saved_model" if name == "model" else f"{name}_saved_model")
        export_saved_model(model, folder, outputs=outputs)
        result["saved_model"] = str(folder)
        result["saved_model_max_abs_diff"] = check_saved_model(model, folder, sample, outputs)
    return result
