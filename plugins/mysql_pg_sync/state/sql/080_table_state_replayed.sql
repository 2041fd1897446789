-- Handoff replay, per partition: which entries of table_state.kafka_position the stream consumer
-- has already rewound to ({"<topic>:<partition>": offset}). A backfill that records a new position
-- empties it, so a table re-backfilled while it streams is replayed from that position again,
-- even past offsets the consumer had applied before. NULL: a row from before this column; its
-- handoff (if any) happened under the older rule, start from the recorded position only when the
-- group has no committed offset.
ALTER TABLE mps_sync.table_state ADD COLUMN IF NOT EXISTS replayed_position jsonb;
