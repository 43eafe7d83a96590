"""kerastricks: Keras 3 tricks for learning from small data and from no labels.

`import kerastricks as kt`, then `kt.layers`, `kt.losses`, `kt.optimizers`, `kt.callbacks`,
`kt.metrics`, `kt.models` for Keras objects, and `kt.geometry`, `kt.active`, `kt.transfer`,
`kt.tracking`, `kt.datasets`, `kt.distribute` for the techniques behind them, and
`kt.export` to ship a trained model, `kt.testing` to check that a training composes.

`import kerastricks` itself does not import TensorFlow: the subpackages load on first use
(PEP 562), all together, so that every kerastricks Keras object is registered for
`keras.saving.load_model` as soon as any of them is touched. This keeps the `kerastricks`
command's `list` and `--help` instant. `kt.recipe_utils` alone loads only itself. When
Keras is already imported (`import keras` before `import kerastricks`, the usual order),
everything loads at once, since the backend's start-up is paid already: a script that only
imports both and then calls `keras.saving.load_model` finds every kerastricks object.

The Keras objects run on any Keras 3 backend (`docs/backends.md`). `kt.distribute`,
`kt.export` and `kt.testing` are TensorFlow's (`tf.distribute`, SavedModel): under another
backend they are left out of that loading and import TensorFlow when first touched, so
`import kerastricks` under `KERAS_BACKEND=jax` needs no TensorFlow.
"""

import importlib
import sys

from kerastricks.version import __version__

_SUBPACKAGES = (
    "active",
    "callbacks",
    "datasets",
    "distribute",
    "export",
    "geometry",
    "layers",
    "losses",
    "metrics",
    "models",
    "optimizers",
    "recipe_utils",
    "testing",
    "tracking",
    "transfer",
)

# Built on TensorFlow APIs (tf.distribute, SavedModel): loaded with the others only under
# the TensorFlow backend, else on first access.
_TENSORFLOW_ONLY = ("distribute", "export", "testing")

__all__ = ["__version__", "load_all", *_SUBPACKAGES]


def load_all():
    """Imports every subpackage (and so registers every kerastricks Keras object).

    `import kerastricks` is lazy; attribute access such as `kt.layers` calls this. Call it
    yourself before `keras.saving.load_model` of a file with kerastricks objects if your
    code touches no `kt.` attribute first. Under a backend other than TensorFlow it leaves
    out `kt.distribute`, `kt.export` and `kt.testing`, which hold no Keras object and
    need TensorFlow; they load when first touched.

    Example:

    >>> import kerastricks as kt
    >>> kt.load_all()
    >>> "kerastricks.layers" in __import__("sys").modules
    True
    """
    import keras

    tensorflow = keras.backend.backend() == "tensorflow"
    for name in _SUBPACKAGES:
        if tensorflow or name not in _TENSORFLOW_ONLY:
            importlib.import_module(f"kerastricks.{name}")


def __getattr__(name):
    if name not in _SUBPACKAGES:
        raise AttributeError(f"module 'kerastricks' has no attribute {name!r}")
    if name != "recipe_utils":  # the recipes' argument parsing needs no TensorFlow
        load_all()
    try:
        return importlib.import_module(f"kerastricks.{name}")
    except ModuleNotFoundError as error:
        if name not in _TENSORFLOW_ONLY or error.name != "tensorflow":
            raise
        raise ModuleNotFoundError(
            f"kt.{name} is built on TensorFlow (tf.distribute, SavedModel), which is not "
            "installed: `pip install tensorflow`. The layers, losses, metrics, optimizers, "
            "callbacks and acquisition functions run without it (docs/backends.md).",
            name="tensorflow",
        ) from error


def __dir__():
    return sorted([*globals(), *_SUBPACKAGES])


if "keras" in sys.modules:  # the backend is loaded already: register everything now
    load_all()
