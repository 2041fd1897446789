-- Streaming apply: decided conflicts, dead letters, per-table counters and lag, mapping drift.
CREATE TABLE IF NOT EXISTS mps_sync.conflicts (
    id              bigserial PRIMARY KEY,
    decided_at      timestamptz NOT NULL DEFAULT now(),
    source_table    text NOT NULL,                -- MySQL db.table of the mapping
    target_table    text NOT NULL,                -- the table the change was written to
    key             jsonb NOT NULL,
    incoming_side   text NOT NULL CHECK (incoming_side IN ('mysql', 'postgres')),
    incoming_image  jsonb,
    target_image    jsonb,
    winner          text NOT NULL CHECK (winner IN ('mysql', 'postgres')),
    rule            text NOT NULL,
    kind            text NOT NULL,                -- insert_exists | update_update | update_delete | delete_update
    kafka_topic     text,
    kafka_partition integer,
    kafka_offset    bigint,
    UNIQUE (kafka_topic, kafka_partition, kafka_offset)  -- a replayed batch records nothing twice
);
CREATE INDEX IF NOT EXISTS conflicts_table_time ON mps_sync.conflicts (source_table, decided_at);

CREATE TABLE IF NOT EXISTS mps_sync.dead_letters (
    id              bigserial PRIMARY KEY,
    recorded_at     timestamptz NOT NULL DEFAULT now(),
    source_table    text,
    key             jsonb,
    error_class     text NOT NULL,
    error           text NOT NULL,
    kafka_topic     text,
    kafka_partition integer,
    kafka_offset    bigint,
    dead_letter_topic text NOT NULL,
    UNIQUE (kafka_topic, kafka_partition, kafka_offset)
);

CREATE TABLE IF NOT EXISTS mps_sync.stream_metrics (
    source_table    text NOT NULL,
    incoming_side   text NOT NULL,                -- where the changes came from
    events          bigint NOT NULL DEFAULT 0,
    applied         bigint NOT NULL DEFAULT 0,
    skipped_same    bigint NOT NULL DEFAULT 0,    -- target already equal: no write
    echoes          bigint NOT NULL DEFAULT 0,    -- our own writes coming back, dropped
    conflicts       bigint NOT NULL DEFAULT 0,
    dead_letters    bigint NOT NULL DEFAULT 0,
    last_lag_ms     bigint,                       -- source commit -> applied, last batch max
    events_per_s    double precision,             -- last batch
    last_source_ts  timestamptz,
    last_applied_at timestamptz,
    PRIMARY KEY (source_table, incoming_side)
);

CREATE TABLE IF NOT EXISTS mps_sync.mapping_drift (
    source_table    text NOT NULL,
    incoming_side   text NOT NULL,
    unknown_columns text[] NOT NULL,
    first_seen      timestamptz NOT NULL DEFAULT now(),
    last_seen       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source_table, incoming_side, unknown_columns)
);

CREATE TABLE IF NOT EXISTS mps_sync.stream_runs (
    run_id          text PRIMARY KEY,
    started_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    summary         jsonb
);
