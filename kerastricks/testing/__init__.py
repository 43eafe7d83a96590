"""The composition harness: check that a training gives the same result on one device, on
two replicas, under XLA, in mixed precision, across a `.keras` save and resume, and on two
worker processes."""

from kerastricks.testing.composition import CellResult, Workflow, check_composition
from kerastricks.testing.replicas import mirrored_strategy
from kerastricks.testing.workers import run_workers

__all__ = ["CellResult", "Workflow", "check_composition", "mirrored_strategy", "run_workers"]
