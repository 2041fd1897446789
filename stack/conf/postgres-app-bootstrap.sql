SET client_min_messages = warning;
-- Idempotent, in the target database: the applier's replication origin (its loop-prevention tag,
-- seen by Debezium as source.origin) and the grants that let the non-superuser sync role use it.
SELECT pg_replication_origin_create('mysql_pg_sync')
  WHERE NOT EXISTS (SELECT FROM pg_replication_origin WHERE roname = 'mysql_pg_sync');
GRANT EXECUTE ON FUNCTION pg_replication_origin_session_setup(text) TO :"sync_user";
GRANT EXECUTE ON FUNCTION pg_replication_origin_session_reset() TO :"sync_user";
GRANT EXECUTE ON FUNCTION pg_replication_origin_session_is_setup() TO :"sync_user";
GRANT EXECUTE ON FUNCTION pg_replication_origin_oid(text) TO :"sync_user";
GRANT EXECUTE ON FUNCTION pg_replication_origin_create(text) TO :"sync_user";

-- The sync metadata schema belongs to the sync role, whoever created it first (a benchmark or a
-- script run as admin must not lock the applier and the DAGs out of their own state tables).
CREATE SCHEMA IF NOT EXISTS mps_sync AUTHORIZATION :"sync_user";
ALTER SCHEMA mps_sync OWNER TO :"sync_user";
SELECT format('ALTER TABLE mps_sync.%I OWNER TO %I', tablename, :'sync_user')
  FROM pg_tables WHERE schemaname = 'mps_sync' AND tableowner <> :'sync_user' \gexec
SELECT format('ALTER SEQUENCE mps_sync.%I OWNER TO %I', sequencename, :'sync_user')
  FROM pg_sequences WHERE schemaname = 'mps_sync' AND sequenceowner <> :'sync_user' \gexec
