-- Reconcile runs, per-table results, confirmed drift rows and every repair (planned or applied).
CREATE TABLE IF NOT EXISTS mps_sync.reconcile_runs (
    run_id       bigserial PRIMARY KEY,          -- increases: max(run_id) is the latest run
    trigger      text NOT NULL DEFAULT '',       -- e.g. the Airflow dag run id, or 'cli'
    status       text NOT NULL DEFAULT 'running'
                 CHECK (status IN ('running', 'succeeded', 'drift', 'failed')),
    params       jsonb NOT NULL DEFAULT '{}',
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz,
    report_json  text,                           -- paths of the self-contained reports
    report_html  text
);

CREATE TABLE IF NOT EXISTS mps_sync.reconcile_tables (
    run_id              bigint NOT NULL REFERENCES mps_sync.reconcile_runs (run_id) ON DELETE CASCADE,
    source_table        text NOT NULL,           -- MySQL db.table, as in the mapping
    target_table        text NOT NULL,           -- PostgreSQL schema.table
    status              text NOT NULL DEFAULT 'running'
                        CHECK (status IN ('running', 'in_sync', 'drift', 'repaired',
                                          'repair_refused', 'error')),
    rows_mysql          bigint,
    rows_postgres       bigint,
    segments_compared   integer,
    segments_mismatched integer,
    suspects            integer,                 -- keys the checksums pointed at
    in_flight           integer,                 -- suspects that were equal on the re-check
    hash_only           integer,                 -- hash differed, values equal (float digits, JSON)
    drift_found         integer NOT NULL DEFAULT 0,   -- confirmed drift rows
    drift_repaired      integer NOT NULL DEFAULT 0,
    missing             integer NOT NULL DEFAULT 0,   -- in MySQL, not in PostgreSQL
    extra               integer NOT NULL DEFAULT 0,   -- in PostgreSQL, not in MySQL
    different           integer NOT NULL DEFAULT 0,
    detail              jsonb NOT NULL DEFAULT '{}',  -- examples, columns, repair counts
    error               text,
    started_at          timestamptz NOT NULL DEFAULT now(),
    finished_at         timestamptz,
    PRIMARY KEY (run_id, source_table)
);

CREATE TABLE IF NOT EXISTS mps_sync.reconcile_drift (
    run_id        bigint NOT NULL REFERENCES mps_sync.reconcile_runs (run_id) ON DELETE CASCADE,
    source_table  text NOT NULL,
    key           jsonb NOT NULL,                -- key values, encoded as backfill.keys does
    drift         text NOT NULL CHECK (drift IN ('missing', 'extra', 'different')),
    columns       text[] NOT NULL DEFAULT '{}',  -- MySQL names of the differing columns
    detected_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, source_table, key)
);

CREATE TABLE IF NOT EXISTS mps_sync.reconcile_repairs (
    repair_id     bigserial PRIMARY KEY,
    run_id        bigint NOT NULL REFERENCES mps_sync.reconcile_runs (run_id) ON DELETE CASCADE,
    source_table  text NOT NULL,
    key           jsonb NOT NULL,
    action        text NOT NULL CHECK (action IN ('upsert', 'delete')),
    write_to      text NOT NULL CHECK (write_to IN ('mysql', 'postgres')),
    decided_by    text NOT NULL,                 -- 'mysql', 'postgres' or 'last_writer_wins:<column>'
    status        text NOT NULL CHECK (status IN ('planned', 'dry_run', 'refused', 'applied',
                                                  'failed')),
    error         text,
    planned_at    timestamptz NOT NULL DEFAULT now(),
    finished_at   timestamptz
);

CREATE INDEX IF NOT EXISTS reconcile_tables_source_idx
    ON mps_sync.reconcile_tables (source_table, run_id);
CREATE INDEX IF NOT EXISTS reconcile_repairs_run_idx
    ON mps_sync.reconcile_repairs (run_id, source_table);
