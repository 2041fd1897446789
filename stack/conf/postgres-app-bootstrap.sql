-- Idempotent, in the target database: the applier's replication origin (its loop-prevention tag,
-- seen by Debezium as source.origin) and the grants that let the non-superuser sync role use it.
SELECT pg_replication_origin_create('mysql_pg_sync')
  WHERE NOT EXISTS (SELECT FROM pg_replication_origin WHERE roname = 'mysql_pg_sync');
GRANT EXECUTE ON FUNCTION pg_replication_origin_session_setup(text) TO :"sync_user";
GRANT EXECUTE ON FUNCTION pg_replication_origin_session_reset() TO :"sync_user";
GRANT EXECUTE ON FUNCTION pg_replication_origin_session_is_setup() TO :"sync_user";
GRANT EXECUTE ON FUNCTION pg_replication_origin_oid(text) TO :"sync_user";
GRANT EXECUTE ON FUNCTION pg_replication_origin_create(text) TO :"sync_user";
