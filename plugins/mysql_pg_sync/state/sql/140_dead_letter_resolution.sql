-- A dead letter stays open until an operator recovers it: `dead-letters retry` copies the
-- source's current row of its key through the stream applier, `dead-letters resolve` records a
-- fix made by hand. Open letters (resolved_at IS NULL) are what the Sync status page and the
-- data-quality `dead_letters` check count.
ALTER TABLE mps_sync.dead_letters ADD COLUMN IF NOT EXISTS resolved_at timestamptz;
-- what was done: 'retried: copied MySQL''s current row to PostgreSQL', 'retried: deleted ...',
-- 'resolved by hand: <note>'
ALTER TABLE mps_sync.dead_letters ADD COLUMN IF NOT EXISTS resolution text;
CREATE INDEX IF NOT EXISTS dead_letters_open ON mps_sync.dead_letters (source_table, recorded_at)
    WHERE resolved_at IS NULL;
