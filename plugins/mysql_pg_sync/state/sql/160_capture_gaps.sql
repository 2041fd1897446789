-- Capture gaps: a connector whose stored position was gone (MySQL purged the binlog, the
-- PostgreSQL slot lost its WAL or was dropped) and was reset by `connectors
-- reset_lost_positions` starts capturing from now; the changes in between never reached Kafka.
-- They are recorded beside the Kafka gaps, with no topic or offsets, so `status` shows the
-- tables red until a reconcile of each finishes in sync or repaired.
ALTER TABLE mps_sync.stream_gaps
    ADD COLUMN IF NOT EXISTS kind text NOT NULL DEFAULT 'kafka'
        CHECK (kind IN ('kafka', 'capture')),
    ALTER COLUMN group_id DROP NOT NULL,
    ALTER COLUMN topic DROP NOT NULL,
    ALTER COLUMN kafka_partition DROP NOT NULL,
    ALTER COLUMN needed_offset DROP NOT NULL,
    ALTER COLUMN resumed_offset DROP NOT NULL;
-- a Kafka gap is recorded once: a consumer that dies between recording it and moving on finds
-- the same gap again at its restart
CREATE UNIQUE INDEX IF NOT EXISTS stream_gaps_once
    ON mps_sync.stream_gaps (group_id, topic, kafka_partition, needed_offset)
    WHERE kind = 'kafka';
