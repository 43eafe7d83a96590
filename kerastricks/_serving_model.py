"""What `kt.export` serves: a model's inputs and chosen outputs, each with a stable name."""

import keras

from kerastricks._checks import check_type, fail

__all__ = ["ServingModel", "named"]


class ServingModel:
    """A functional model from `model`'s inputs to the named outputs to serve."""

    def __init__(self, model, outputs):
        check_type("model", model, keras.Model, "a keras.Model")
        if not getattr(model, "inputs", None) or not getattr(model, "outputs", None):
            fail(
                "The model must be a built functional or Sequential model (with symbolic "
                "`inputs` and `outputs`); for a subclassed model use `model.export(path)`.",
                "model",
                type(model).__name__,
            )
        self.input_structure = _structure(model, "input")
        names = _input_names(model)
        self.named_inputs = named(self.input_structure, names, "input")
        self.output_names = _output_names(model)
        available = named(_structure(model, "output"), self.output_names)
        if outputs is None:
            outputs = list(available)
        check_type("outputs", outputs, list | tuple, "a list of output names")
        unknown = [n for n in outputs if n not in available]
        if unknown or len(set(outputs)) != len(outputs) or not outputs:
            fail(
                f"`outputs` must name distinct outputs among {list(available)}.", "outputs", outputs
            )
        self.served = list(outputs)
        self.model = keras.Model(
            self.input_structure, {n: available[n] for n in outputs}, name=model.name
        )

    def pack_inputs(self, named):
        """The model's input structure from `{input name: tensor}`."""
        if isinstance(self.input_structure, dict):
            return dict(named)
        values = [named[n] for n in self.named_inputs]
        if isinstance(self.input_structure, list | tuple):
            return values
        return values[0]

    def name_inputs(self, sample):
        """`{input name: array}` from a sample given as an array, a list or a dict."""
        names = list(self.named_inputs)
        if isinstance(sample, dict):
            if sorted(sample) != sorted(names):
                fail(f"`sample` must have the inputs {names}.", "sample", sorted(sample))
            return dict(sample)
        values = list(sample) if isinstance(sample, list | tuple) else [sample]
        if len(values) != len(names):
            fail(f"`sample` must give {len(names)} inputs ({names}).", "len(sample)", len(values))
        return dict(zip(names, values, strict=True))


def _input_names(model) -> list:
    """The names of the `InputLayer`s behind `model.inputs`, read from the model's config.

    They are saved in `.keras` files, so a reloaded model has the same names (a
    `Sequential`'s input tensor gets a fresh name in every process).
    """
    config = model.get_config()
    entries = config.get("input_layers")
    if isinstance(entries, dict):  # dict inputs: `model.inputs` follows the sorted keys
        entries = [entries[key] for key in sorted(entries)]
    if entries:
        entries = [entries] if isinstance(entries[0], str) else entries
        if len(entries) == len(model.inputs):
            return [entry[0] for entry in entries]
    layers = config.get("layers") or []
    if len(model.inputs) == 1 and layers and layers[0].get("class_name") == "InputLayer":
        return [layers[0]["config"]["name"]]
    return [tensor.name for tensor in model.inputs]


def _structure(model, which):
    """`model.input` or `model.output` (a dict, list or tensor); a Sequential's flat list."""
    try:
        return getattr(model, which)
    except AttributeError:  # a Sequential model that was never called
        tensors = getattr(model, which + "s")
        return tensors[0] if len(tensors) == 1 else list(tensors)


def named(structure, fallback_names, prefix="output"):
    """`{name: tensor}` of a dict (its keys), or a list or one tensor (`fallback_names`)."""
    if isinstance(structure, dict):
        return dict(structure)
    tensors = list(structure) if isinstance(structure, list | tuple) else [structure]
    names = list(fallback_names)
    if len(set(names)) != len(tensors):
        names = [f"{prefix}_{i}" for i in range(len(tensors))]
    return dict(zip(names, tensors, strict=True))


def _output_names(model):
    """Functional models name their outputs; a Sequential model's is its last layer."""
    names = getattr(model, "output_names", None)
    if names:
        return list(names)
    if len(model.outputs) == 1 and model.layers:
        return [model.layers[-1].name]
    return [f"output_{i}" for i in range(len(model.outputs))]
