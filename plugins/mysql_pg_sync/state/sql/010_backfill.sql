-- Backfill: one row per table plan and per chunk; a re-run skips chunks that are done.
CREATE TABLE IF NOT EXISTS mps_sync.backfill_tables (
    source_table   text PRIMARY KEY,             -- MySQL db.table
    target_table   text NOT NULL,                -- PostgreSQL schema.table
    key_columns    text[] NOT NULL,              -- MySQL key columns, chunk order
    strategy       text NOT NULL CHECK (strategy IN ('integer', 'keyset')),
    reader         text NOT NULL,                -- connectorx | mysqlclient, and why
    chunk_rows     bigint NOT NULL,
    planned_at     timestamptz NOT NULL DEFAULT now(),
    prepared_at    timestamptz,                  -- handoff position recorded, target checked
    finalized_at   timestamptz,
    source_rows    bigint,                       -- counted at finalize
    target_rows    bigint,
    note           text
);

CREATE TABLE IF NOT EXISTS mps_sync.backfill_chunks (
    source_table   text NOT NULL REFERENCES mps_sync.backfill_tables ON DELETE CASCADE,
    seq            integer NOT NULL,
    lower_key      jsonb,                        -- inclusive, NULL = unbounded
    upper_key      jsonb,                        -- exclusive, NULL = unbounded
    state          text NOT NULL DEFAULT 'planned'
                   CHECK (state IN ('planned', 'running', 'done', 'failed')),
    attempts       integer NOT NULL DEFAULT 0,
    rows           bigint,
    bytes          bigint,
    duration_s     double precision,
    reader         text,
    error          text,
    run_id         text,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (source_table, seq)
);

CREATE TABLE IF NOT EXISTS mps_sync.backfill_runs (
    run_id         text PRIMARY KEY,
    started_at     timestamptz NOT NULL DEFAULT now(),
    finished_at    timestamptz,
    params         jsonb NOT NULL DEFAULT '{}',
    summary        jsonb
);
