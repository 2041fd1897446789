SET client_min_messages = warning;
-- Idempotent: roles and databases of the local stack. psql variables come from stack/stack.env.
SELECT format('CREATE ROLE %I LOGIN SUPERUSER', :'admin_user')
  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'admin_user') \gexec
ALTER ROLE :"admin_user" PASSWORD :'admin_password';

-- sync: owns the target database (DDL, applier, state schema); REPLICATION for Debezium's slot.
SELECT format('CREATE ROLE %I LOGIN REPLICATION', :'sync_user')
  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'sync_user') \gexec
ALTER ROLE :"sync_user" PASSWORD :'sync_password';

SELECT format('CREATE ROLE %I LOGIN', :'airflow_user')
  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'airflow_user') \gexec
ALTER ROLE :"airflow_user" PASSWORD :'airflow_password';

SELECT format('CREATE DATABASE %I OWNER %I ENCODING %L', :'app_db', :'sync_user', 'UTF8')
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'app_db') \gexec
SELECT format('CREATE DATABASE %I OWNER %I ENCODING %L', :'airflow_db', :'airflow_user', 'UTF8')
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'airflow_db') \gexec

-- The applier skips foreign-key checks like a replication applier (ADR 0006); cluster-wide.
GRANT SET ON PARAMETER session_replication_role TO :"sync_user";
