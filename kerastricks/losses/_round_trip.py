"""A loss that kerastricks serializes must come back from its config as the same loss.

Some Keras losses leave a constructor argument out of `get_config`: in Keras 3.15,
`Huber` drops `delta`, `CosineSimilarity` and `SparseCategoricalCrossentropy` drop `axis`.
A kerastricks object that saves such a loss inside its own config (`GlobalWeightedMean`,
`MultiTaskModel`'s compile config) would reload it with the default and train a different
loss after a resume, with no error. The check below catches that when the loss is handed
over, by comparing the loss and its round trip on a small probe.
"""

import keras
import numpy as np

from kerastricks._checks import fail

__all__ = ["check_loss_round_trip"]

# Targets and predictions in (0, 1) with errors up to about +-3 after the offset, a last
# axis of 3 and a middle axis of 4: a changed Huber `delta` (errors past the default 1.0),
# a changed `axis` (the axes differ in length) or a changed `from_logits` moves the value.
_PROBE_TRUE = np.linspace(0.05, 0.95, 24, dtype="float32").reshape(2, 4, 3)
_PROBE_PRED = (_PROBE_TRUE[::-1] * 6.0 - 2.0).astype("float32")


def check_loss_round_trip(name: str, loss) -> None:
    """Raises `ValueError` if `loss` (a `keras.losses.Loss`) changes through its config."""
    if not isinstance(loss, keras.losses.Loss):
        return  # functions serialize by name: nothing to lose
    try:
        before = np.asarray(loss(_PROBE_TRUE, _PROBE_PRED))
        copy = keras.losses.deserialize(keras.losses.serialize(loss))
        after = np.asarray(copy(_PROBE_TRUE, _PROBE_PRED))
    except Exception:  # a loss the probe does not fit (integer labels...): nothing to check
        return
    if before.shape == after.shape and np.allclose(before, after, rtol=1e-5, atol=1e-6):
        return
    fail(
        f"`{name}` does not survive its own `get_config`: reloaded from its config it "
        f"computes {float(np.mean(after)):.6g} where it computes {float(np.mean(before)):.6g}, "
        "so a saved model would resume with a different loss. Keras's `Huber` drops `delta`, "
        "`CosineSimilarity` and `SparseCategoricalCrossentropy` drop `axis`. Keep the default "
        "of the dropped argument, or pass a registered subclass whose `get_config` adds it "
        "(docs/multitask.md, 'Losses whose config is incomplete').",
        name,
        type(loss).__name__,
    )
