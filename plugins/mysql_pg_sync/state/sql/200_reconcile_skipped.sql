-- A table reconcile did not compare because its backfill is still copying is 'skipped': not a
-- failure of the run, and no reading of the table's drift (readers exclude it like 'running').
ALTER TABLE mps_sync.reconcile_tables
    DROP CONSTRAINT IF EXISTS reconcile_tables_status_check;
ALTER TABLE mps_sync.reconcile_tables
    ADD CONSTRAINT reconcile_tables_status_check
    CHECK (status IN ('running', 'in_sync', 'drift', 'repaired', 'repair_refused', 'error',
                      'skipped'));
