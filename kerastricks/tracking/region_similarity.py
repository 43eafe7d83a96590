"""Deprecated: region similarity J is a metric and lives in `kt.metrics.region_similarity`."""

from kerastricks._deprecation import deprecated_alias
from kerastricks.metrics.region_similarity import region_similarity as _region_similarity

__all__ = ["region_similarity"]

region_similarity = deprecated_alias(
    _region_similarity, "kt.tracking.region_similarity", "kt.metrics.region_similarity"
)
