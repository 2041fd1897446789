-- For a 'different' drift row, each differing column's compared value on both sides
-- ({"<mysql column>": {"mysql": ..., "postgres": ...}}, long texts shortened), so a drift report
-- shows what differs, not only where. NULL for other classes and for rows stored before.
ALTER TABLE mps_sync.reconcile_drift ADD COLUMN IF NOT EXISTS column_values jsonb;
