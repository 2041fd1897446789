-- The key of a drift row or repair as reconcile's canonical text (one text per key column), the
-- same on both sides: MySQL and PostgreSQL drivers hand some keys out in different forms
-- (binary(16) bytes vs uuid), so the stored driver values alone read differently per side.
-- NULL for rows stored before this column existed.
ALTER TABLE mps_sync.reconcile_drift ADD COLUMN IF NOT EXISTS key_text text[];
ALTER TABLE mps_sync.reconcile_repairs ADD COLUMN IF NOT EXISTS key_text text[];
