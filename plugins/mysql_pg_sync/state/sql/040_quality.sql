-- Data-quality runs and their per-check results (written by the data_quality DAG).
CREATE TABLE IF NOT EXISTS mps_sync.dq_runs (
    run_id          text PRIMARY KEY,
    started_at      timestamptz NOT NULL,
    finished_at     timestamptz NOT NULL,
    success         boolean NOT NULL,                -- no fail-severity breach
    checks          integer NOT NULL,
    failed_fail     integer NOT NULL,                -- breaches of fail-severity checks
    failed_warn     integer NOT NULL,
    skipped         integer NOT NULL,
    report_path     text,                            -- our self-contained HTML report
    data_docs_index text                             -- Great Expectations Data Docs index.html
);

CREATE TABLE IF NOT EXISTS mps_sync.dq_results (
    run_id           text NOT NULL REFERENCES mps_sync.dq_runs (run_id) ON DELETE CASCADE,
    source_table     text NOT NULL,                  -- MySQL db.table, as in the mapping
    check_id         text NOT NULL,                  -- e.g. not_null:email, key_unique
    check_name       text NOT NULL,
    severity         text NOT NULL CHECK (severity IN ('warn', 'fail')),
    outcome          text NOT NULL CHECK (outcome IN ('passed', 'failed', 'error', 'skipped')),
    expectation      text NOT NULL,
    column_name      text,
    observed         jsonb,
    unexpected_count bigint,
    sample           jsonb,
    detail           text NOT NULL DEFAULT '',
    PRIMARY KEY (run_id, source_table, check_id)
);

CREATE INDEX IF NOT EXISTS dq_results_table_idx ON mps_sync.dq_results (source_table, run_id);
CREATE INDEX IF NOT EXISTS dq_runs_finished_idx ON mps_sync.dq_runs (finished_at DESC);
