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
everything loads at once, since TensorFlow's start-up is paid already: a script that only
imports both and then calls `keras.saving.load_model` finds every kerastricks object.
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

__all__ = ["__version__", "load_all", *_SUBPACKAGES]


def load_all():
    """Imports every subpackage (and so registers every kerastricks Keras object).

    `import kerastricks` is lazy; attribute access such as `kt.layers` calls this. Call it
    yourself before `keras.saving.load_model` of a file with kerastricks objects if your
    code touches no `kt.` attribute first.

    Example:

    >>> import kerastricks as kt
    >>> kt.load_all()
    >>> "kerastricks.layers" in __import__("sys").modules
    True
    """
    for name in _SUBPACKAGES:
        importlib.import_module(f"kerastricks.{name}")


def __getattr__(name):
    if name not in _SUBPACKAGES:
        raise AttributeError(f"module 'kerastricks' has no attribute {name!r}")
    if name != "recipe_utils":  # the recipes' argument parsing needs no TensorFlow
        load_all()
    return importlib.import_module(f"kerastricks.{name}")


def __dir__():
    return sorted([*globals(), *_SUBPACKAGES])


if "keras" in sys.modules:  # TensorFlow is loaded already: register everything now
    load_all()
