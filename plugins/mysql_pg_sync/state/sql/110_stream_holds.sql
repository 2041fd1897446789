-- Tables the stream holds back: their target lacks a column the mapping lists (mappings
-- regenerated, `ddl` not run yet). A row lives while the table waits; the Sync status page
-- shows it, also for a stream service that never fails a task.
CREATE TABLE IF NOT EXISTS mps_sync.stream_holds (
    source_table  text NOT NULL,                -- MySQL db.table of the mapping
    incoming_side text NOT NULL CHECK (incoming_side IN ('mysql', 'postgres')),
    reason        text NOT NULL,                -- the error, with the fix
    since         timestamptz NOT NULL DEFAULT now(),
    checked_at    timestamptz NOT NULL DEFAULT now(),  -- last probe that found it still missing
    PRIMARY KEY (source_table, incoming_side)
);
