"""Optimizer wrappers and helpers: per-layer (discriminative) learning rates, and a loss
scale for mixed precision that is right on several replicas."""

from kerastricks.optimizers.layerwise_multipliers import layerwise_multipliers
from kerastricks.optimizers.learning_rate_multiplier import LearningRateMultiplier
from kerastricks.optimizers.loss_scale_optimizer import LossScaleOptimizer
from kerastricks.optimizers.multiplier_keys import expand_multipliers

__all__ = [
    "LearningRateMultiplier",
    "LossScaleOptimizer",
    "expand_multipliers",
    "layerwise_multipliers",
]
