-- What a repair wrote and what it replaced, so that an operator can see, and undo, a repair: a
-- delete of an 'extra' row removed the only copy of that row. Full rows under MySQL column names
-- as reconcile read them before the write (every synced column, the ignored ones too); NULL:
-- no row (a delete writes none, an insert replaced none, or a dead letter's retry read none).
ALTER TABLE mps_sync.reconcile_repairs ADD COLUMN IF NOT EXISTS written jsonb;
ALTER TABLE mps_sync.reconcile_repairs ADD COLUMN IF NOT EXISTS replaced jsonb;
