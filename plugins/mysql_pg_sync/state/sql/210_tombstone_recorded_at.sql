-- When the stream recorded (or last renewed) a tombstone: retention counts from here, not from
-- the delete's commit time, which is days old after a long stop of the stream (ADR 0019).
-- Existing rows take the migration's time.
ALTER TABLE mps_sync.tombstones ADD COLUMN IF NOT EXISTS recorded_at timestamptz NOT NULL DEFAULT now();
