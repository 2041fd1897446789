-- Changes Kafka deleted before the stream applied them: its retention ran out while the stream
-- was stopped or the table paused, or the topic's offsets started again (re-created topic).
-- The stream goes on from the first offset Kafka holds (cdc/offset_gaps.py); the lost changes
-- are drift. `status` shows the table red until a reconcile of it that started after the gap
-- finishes in sync or repaired.
CREATE TABLE IF NOT EXISTS mps_sync.stream_gaps (
    gap_id          bigserial PRIMARY KEY,
    source_table    text NOT NULL,                -- MySQL db.table of the mapping
    incoming_side   text NOT NULL CHECK (incoming_side IN ('mysql', 'postgres')),
    group_id        text NOT NULL,                -- the consumer group that found it
    topic           text NOT NULL,
    kafka_partition integer NOT NULL,
    needed_offset   bigint NOT NULL,              -- the next change the target had not applied
    resumed_offset  bigint NOT NULL,              -- where the stream went on
    lost            bigint,                       -- changes lost; NULL: the offsets restarted
    reason          text NOT NULL,                -- what happened and what to run
    detected_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS stream_gaps_table ON mps_sync.stream_gaps (source_table, detected_at);
