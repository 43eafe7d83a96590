"""The composition harness: check that a training gives the same result on one device, on
two replicas, under XLA, in mixed precision and across a `.keras` save and resume."""

from kerastricks.testing.composition import (
    CELLS,
    CellResult,
    Workflow,
    check_composition,
    mirrored_strategy,
)

__all__ = ["CELLS", "CellResult", "Workflow", "check_composition", "mirrored_strategy"]
