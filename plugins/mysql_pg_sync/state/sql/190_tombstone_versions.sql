-- `version` tables keep tombstones too (see cdc/conflicts.py): a delete counts as the version it
-- removed, and an update from the other side that finds the row gone compares its version with
-- this one. Without it the update always brought the row back, while the other side had decided
-- the delete of a higher version the winner: the row stayed on one side only. NULL for
-- last-writer-wins tables, and for a delete whose before-image lacked the version.
ALTER TABLE mps_sync.tombstones ADD COLUMN IF NOT EXISTS removed_version numeric;
