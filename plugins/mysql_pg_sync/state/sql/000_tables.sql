-- Per-table sync state: the backfill/stream handoff reads and writes it.
CREATE TABLE IF NOT EXISTS mps_sync.table_state (
    source_table   text PRIMARY KEY,             -- MySQL db.table as in the mapping
    target_table   text NOT NULL,                -- PostgreSQL schema.table
    state          text NOT NULL DEFAULT 'new'
                   CHECK (state IN ('new', 'backfilling', 'streaming', 'paused', 'failed')),
    kafka_position jsonb,                        -- {topic: {partition: offset}} recorded before the copy
    updated_at     timestamptz NOT NULL DEFAULT now(),
    note           text
);
