-- PostgreSQL 16 target in docker-compose: sync role, replication origin for loop prevention.
CREATE ROLE sync LOGIN REPLICATION PASSWORD 'sync-local-only';
CREATE DATABASE app OWNER sync;
\c app
SELECT pg_replication_origin_create('mysql_pg_sync');
GRANT EXECUTE ON FUNCTION pg_replication_origin_session_setup(text) TO sync;
GRANT EXECUTE ON FUNCTION pg_replication_origin_session_reset() TO sync;
GRANT EXECUTE ON FUNCTION pg_replication_origin_session_is_setup() TO sync;
