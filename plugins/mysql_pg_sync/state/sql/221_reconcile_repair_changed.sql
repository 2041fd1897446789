-- A repair not written because a side's row changed after the comparison (its compare-and-set
-- failed): nothing was written, the key's drift stays on record, and the next run compares it
-- again. Not 'failed' (the applier did nothing wrong) and not dropped (on a one-way table no
-- stream carries the target's change back, so the drift may well remain).
ALTER TABLE mps_sync.reconcile_repairs DROP CONSTRAINT IF EXISTS reconcile_repairs_status_check;
ALTER TABLE mps_sync.reconcile_repairs ADD CONSTRAINT reconcile_repairs_status_check
    CHECK (status IN ('planned', 'dry_run', 'refused', 'applied', 'failed', 'changed'));
