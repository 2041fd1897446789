-- DDL statements the MySQL/MariaDB source connector skips (its internal.schema.history.internal.ddl.filter):
-- ones Debezium's parser cannot read, which stop the connector on every restart, each recorded by
-- `connectors skip_ddl` after it checked the statement changes no captured table
-- (cdc/unparseable_ddl.py). `connectors apply` renders them into the connector's config.
CREATE TABLE IF NOT EXISTS mps_sync.connector_ddl_skips (
    connector  text        NOT NULL,
    statement  text        NOT NULL,
    tables     text[]      NOT NULL,
    reason     text        NOT NULL,
    skipped_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connector, statement)
);
