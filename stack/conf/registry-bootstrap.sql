SET client_min_messages = warning;
-- Idempotent: the Apicurio registry's own role and database (ADR 0010). The registry creates
-- and upgrades its tables itself (registry.sql.init). psql variables come from stack/stack.
SELECT format('CREATE ROLE %I LOGIN', :'registry_user')
  WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'registry_user') \gexec
ALTER ROLE :"registry_user" PASSWORD :'registry_password';

SELECT format('CREATE DATABASE %I OWNER %I ENCODING %L', :'registry_db', :'registry_user', 'UTF8')
  WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'registry_db') \gexec
