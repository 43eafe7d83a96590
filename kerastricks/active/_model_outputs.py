"""What the active learner needs from a model: member probabilities and embeddings."""

import keras
import numpy as np

from kerastricks._checks import fail
from kerastricks.active._forward import forward
from kerastricks.active.ensemble import Ensemble
from kerastricks.active.mc_predict import mc_predict, random_at_inference

__all__ = ["member_probabilities", "embeddings", "accuracy_and_nll"]

_BATCH = 512


def member_probabilities(model, x, mc_samples) -> np.ndarray:
    """`[M, N, C]`: an ensemble's members, `mc_samples` MC-dropout passes, or `[1, N, C]`."""
    if isinstance(model, Ensemble):
        return model.predict(x, batch_size=_BATCH)
    if mc_samples:
        return mc_predict(model, x, samples=mc_samples, batch_size=_BATCH)
    return forward(model, x, _BATCH)[None]


def embeddings(model, x) -> np.ndarray:
    """`[N, D]` features from the layer before the classifier (before any dropout)."""
    if isinstance(model, Ensemble):
        model = model.models[0]
    layers = getattr(model, "layers", [])
    if not getattr(model, "inputs", None) or len(layers) < 2:
        fail(
            "Diversity selection needs the model's embeddings: build a functional or "
            "Sequential model with a layer before its classifier.",
            "model",
            getattr(model, "name", model),
        )
    position = len(layers) - 2
    while position > 0 and (
        random_at_inference(layers[position]) or isinstance(layers[position], keras.layers.Dropout)
    ):
        position -= 1
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    extractor = keras.Model(inputs, layers[position].output)
    features = forward(extractor, x, _BATCH)
    return features.reshape(len(features), -1)


def accuracy_and_nll(probs: np.ndarray, y) -> dict:
    """Accuracy and negative log-likelihood of the member-averaged prediction, and (for
    several members) the mean accuracy of one member alone."""
    mean = probs.mean(axis=0)
    y = np.asarray(y)
    target = y.argmax(axis=-1) if y.ndim == mean.ndim else y.astype(np.int64).reshape(-1)
    picked = mean[np.arange(len(target)), target]
    metrics = {
        "accuracy": float((mean.argmax(axis=-1) == target).mean()),
        "nll": float(-np.log(np.maximum(picked, 1e-12)).mean()),
    }
    if len(probs) > 1:
        metrics["member_accuracy"] = float((probs.argmax(axis=-1) == target).mean())
    return metrics
