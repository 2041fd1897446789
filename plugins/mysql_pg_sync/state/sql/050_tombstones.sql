-- Deletes the stream applied or saw, per side, so a late update from the other side can tell
-- whether the delete was newer (last-writer-wins across delete/update, see cdc/conflicts.py).
CREATE TABLE IF NOT EXISTS mps_sync.tombstones (
    source_table text NOT NULL,                  -- the mapping's name (MySQL db.table)
    key          jsonb NOT NULL,                 -- key values in PostgreSQL column order, as text
    side         text NOT NULL CHECK (side IN ('mysql', 'postgres')),  -- where the delete ran
    deleted_at   timestamptz NOT NULL,           -- the delete's commit time at its source
    PRIMARY KEY (source_table, key, side)
);
