-- PostgreSQL 16 target in docker-compose: what stack/conf/postgres-bootstrap.sql and
-- postgres-app-bootstrap.sql give the sync role locally, with the role and database names fixed
-- (the image's init runs plain psql, without the stack's variables).
-- tests/unit/test_compose_file.py fails when a grant here and there drifts apart.
CREATE ROLE sync LOGIN REPLICATION PASSWORD 'sync-local-only';
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
