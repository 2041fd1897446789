-- Backfill rows left out because a value cannot be converted (mapping backfill.on_bad_value:
-- reject). Written in the chunk's own write transaction, after deleting the chunk's earlier
-- rejects, so a retried or re-queued chunk never duplicates them; a re-plan (mode=reload)
-- drops the table's chunks and, with them, their rejects.
CREATE TABLE IF NOT EXISTS mps_sync.backfill_rejects (
    id             bigserial PRIMARY KEY,
    run_id         text NOT NULL,                -- the run that copied the chunk
    source_table   text NOT NULL,                -- MySQL db.table
    seq            integer NOT NULL,             -- the chunk
    key            jsonb NOT NULL,               -- {"column": value}, MySQL key column names
    column_name    text NOT NULL,                -- the first column that cannot be converted
    value          text,                         -- its value as read, Python repr; NULL = NULL
    error          text NOT NULL,
    rejected_at    timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (source_table, seq) REFERENCES mps_sync.backfill_chunks ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS backfill_rejects_chunk ON mps_sync.backfill_rejects (source_table, seq);

-- Rows of the chunk that went to backfill_rejects (its source rows = rows + rejected).
-- Checked first: ALTER TABLE would take an exclusive lock on every call of ensure_schema, and
-- wait behind chunks that are writing.
DO $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM information_schema.columns
        WHERE table_schema = 'mps_sync' AND table_name = 'backfill_chunks'
          AND column_name = 'rejected'
    ) THEN
        ALTER TABLE mps_sync.backfill_chunks ADD COLUMN rejected bigint NOT NULL DEFAULT 0;
    END IF;
END
$$;
