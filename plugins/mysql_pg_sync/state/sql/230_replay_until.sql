-- Handoff replay, per partition: the end of its log when the stream consumer rewound it to the
-- backfill's position ({"<topic>:<partition>": offset}), written with replayed_position. The
-- changes below it are replayed over a copy that may already show them: a delete among them
-- that wins a conflict with the copy removes no row on the other side (consumer._replayed). Kept
-- here, not in the consumer's memory, so the window outlives a bounded stream run and a
-- rebalance; a partition's entry is removed once its applied offset reaches it. NULL or no
-- entry: nothing of the partition is being replayed.
ALTER TABLE mps_sync.table_state ADD COLUMN IF NOT EXISTS replay_until jsonb;
