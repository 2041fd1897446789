-- The stream's exactly-once fence for changes applied to PostgreSQL: the next Kafka offset of
-- each partition, written in the same transaction as the changes themselves. Kafka's own
-- committed offset lags it (committed after the database); a replay from there skips what this
-- table says is already applied. The MySQL side keeps the same table in the synced database.
CREATE TABLE IF NOT EXISTS mps_sync.applied_offsets (
    group_id        text NOT NULL,
    topic           text NOT NULL,
    kafka_partition integer NOT NULL,
    next_offset     bigint NOT NULL,
    source_position text,                         -- log order of the last change (source_order.py)
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (group_id, topic, kafka_partition)
);
ALTER TABLE mps_sync.applied_offsets ADD COLUMN IF NOT EXISTS source_position text;
