-- A Kafka topic deleted and created again starts its offsets at 0 again (see 170): a failure or
-- a decided conflict of another row at an offset an earlier one holds took over its row, and
-- an open dead letter vanished from `dead-letters list`, status, retry and the data-quality
-- check. One row per Kafka position and key instead: a replayed batch (same position, same key)
-- still records nothing twice.
ALTER TABLE mps_sync.dead_letters
    DROP CONSTRAINT IF EXISTS dead_letters_kafka_topic_kafka_partition_kafka_offset_key;
CREATE UNIQUE INDEX IF NOT EXISTS dead_letters_once_per_key ON mps_sync.dead_letters
    (kafka_topic, kafka_partition, kafka_offset, (coalesce(key, 'null'::jsonb)));
ALTER TABLE mps_sync.conflicts
    DROP CONSTRAINT IF EXISTS conflicts_kafka_topic_kafka_partition_kafka_offset_key;
CREATE UNIQUE INDEX IF NOT EXISTS conflicts_once_per_key ON mps_sync.conflicts
    (kafka_topic, kafka_partition, kafka_offset, key);
