"""kerastricks.tracking."""

from kerastricks.tracking.boundary_measure import boundary_measure
from kerastricks.tracking.copy_labels import copy_labels
from kerastricks.tracking.propagate_masks import propagate_masks
from kerastricks.tracking.region_similarity import region_similarity

__all__ = ["boundary_measure", "copy_labels", "propagate_masks", "region_similarity"]
