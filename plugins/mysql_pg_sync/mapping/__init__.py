"""Table mappings: models and loader (:mod:`.models`), generator, validation."""

from __future__ import annotations

from mysql_pg_sync.mapping.models import MappingSet, TableMapping, load_mappings

__all__ = ["MappingSet", "TableMapping", "load_mappings"]
