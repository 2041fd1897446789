-- The id of each Kafka topic as a consumer group last read it. A topic deleted and created again
-- gets a new id (KIP-516) and starts its offsets again; one that already holds more messages
-- than the target's applied-offset fence would otherwise have its first messages skipped as
-- applied. The consumer compares at each assignment and every minute (cdc/offset_gaps.py).
CREATE TABLE IF NOT EXISTS mps_sync.stream_topic_ids (
    group_id text NOT NULL,
    topic    text NOT NULL,
    topic_id text NOT NULL,
    seen_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (group_id, topic)
);
