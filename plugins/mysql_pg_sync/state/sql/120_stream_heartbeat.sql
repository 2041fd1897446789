-- A running stream consumer (Airflow task or service) stamps its run every ~30 s, so the Sync
-- status page can tell a live consumer from one that died without finishing its run row.
ALTER TABLE mps_sync.stream_runs ADD COLUMN IF NOT EXISTS heartbeat_at timestamptz;
