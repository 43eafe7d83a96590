"""kerastricks: Keras 3 tricks for learning from small data and from no labels.

`import kerastricks as kt`, then `kt.layers`, `kt.losses`, `kt.optimizers`, `kt.callbacks`,
`kt.metrics`, `kt.models` for Keras objects, and `kt.geometry`, `kt.active`, `kt.transfer`,
`kt.tracking`, `kt.datasets`, `kt.distribute` for the techniques behind them, and
`kt.export` to ship a trained model, `kt.testing` to check that a training composes.
"""

from kerastricks import (
    active,
    callbacks,
    datasets,
    distribute,
    export,
    geometry,
    layers,
    losses,
    metrics,
    models,
    optimizers,
    recipe_utils,
    testing,
    tracking,
    transfer,
)
from kerastricks.version import __version__

__all__ = [
    "__version__",
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
]
