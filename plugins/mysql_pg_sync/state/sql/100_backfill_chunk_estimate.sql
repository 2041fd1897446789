-- Each chunk's estimated rows (its table's chunk size, or the counted tail): small chunks share
-- a copy task (backfill.plan.group_chunks). NULL for chunks planned before: counted as full.
-- Checked first: ALTER TABLE would take an exclusive lock and wait behind chunks that write.
DO $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM information_schema.columns
        WHERE table_schema = 'mps_sync' AND table_name = 'backfill_chunks'
          AND column_name = 'est_rows'
    ) THEN
        ALTER TABLE mps_sync.backfill_chunks ADD COLUMN est_rows bigint;
    END IF;
END
$$;
