#!/bin/bash
# PostgreSQL 16 target in docker-compose: what stack/conf/postgres-bootstrap.sql and
# postgres-app-bootstrap.sql give the sync role locally, with the role and database names fixed.
# The image's entrypoint runs this on a new (empty) postgres-data volume; the password is
# SYNC_PASSWORD from docker-compose.yaml (the one Airflow, the stream and Connect log in with),
# handed to psql as a variable so that psql quotes it (:'sync_password').
# tests/unit/test_compose_file.py fails when a grant here and there drifts apart.

if [ -z "${SYNC_PASSWORD:-}" ]; then
  echo "postgres-init.sh: SYNC_PASSWORD is not set (docker-compose.yaml passes it)" >&2
  exit 1
fi

psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname postgres \
  -v sync_password="$SYNC_PASSWORD" <<'SQL'
CREATE ROLE sync LOGIN REPLICATION PASSWORD :'sync_password';
CREATE DATABASE app OWNER sync ENCODING 'UTF8';

-- The applier skips foreign-key checks like a replication applier (ADR 0006); cluster-wide.
GRANT SET ON PARAMETER session_replication_role TO sync;

\c app
-- The applier's replication origin (its loop-prevention tag, seen by Debezium as source.origin)
-- and the grants that let the non-superuser sync role use it (ADR 0003).
SELECT pg_replication_origin_create('mysql_pg_sync');
GRANT EXECUTE ON FUNCTION pg_replication_origin_session_setup(text) TO sync;
GRANT EXECUTE ON FUNCTION pg_replication_origin_session_reset() TO sync;
GRANT EXECUTE ON FUNCTION pg_replication_origin_session_is_setup() TO sync;
GRANT EXECUTE ON FUNCTION pg_replication_origin_oid(text) TO sync;
GRANT EXECUTE ON FUNCTION pg_replication_origin_create(text) TO sync;

-- The sync metadata schema belongs to the sync role (ADR 0005).
CREATE SCHEMA IF NOT EXISTS mps_sync AUTHORIZATION sync;
SQL
