-- The id of each Kafka topic as a consumer group last read each of its partitions. A topic
-- deleted and created again gets a new id (KIP-516) and starts its offsets again; one that
-- already holds more messages than the target's applied-offset fence would otherwise have its
-- first messages skipped as applied. The member that owns a partition compares at each
-- assignment and every minute (cdc/offset_gaps.py); per partition, so every member of a group
-- finds the re-creation for the partitions it owns.
-- (an earlier, never released shape kept one id per topic under another name)
DROP TABLE IF EXISTS mps_sync.stream_topic_ids;
CREATE TABLE IF NOT EXISTS mps_sync.partition_topic_ids (
    group_id        text NOT NULL,
    topic           text NOT NULL,
    kafka_partition integer NOT NULL,
    topic_id        text NOT NULL,
    changed_at      timestamptz NOT NULL DEFAULT now(),  -- when this id was first seen
    PRIMARY KEY (group_id, topic, kafka_partition)
);
-- a gap found in a re-created topic carries the new topic's id: a second re-creation of the
-- same topic, found at the same offset, is a new gap, not the first one found again
ALTER TABLE mps_sync.stream_gaps ADD COLUMN IF NOT EXISTS topic_id text;
DROP INDEX IF EXISTS mps_sync.stream_gaps_once;
CREATE UNIQUE INDEX IF NOT EXISTS stream_gaps_once_per_topic_id
    ON mps_sync.stream_gaps (group_id, topic, kafka_partition, needed_offset, coalesce(topic_id, ''))
    WHERE kind = 'kafka';
