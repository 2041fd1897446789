#!/bin/bash
# MariaDB 10.11 in docker-compose: the sync user with least privilege for Debezium + the applier,
# as stack/conf/mariadb-bootstrap.sql grants it locally (tests/unit/test_compose_file.py compares).
# The image's entrypoint sources this on a new (empty) mysql-data volume; the password is
# SYNC_PASSWORD from docker-compose.yaml, the one Airflow, the stream and Connect log in with.
#   BINLOG MONITOR: Debezium's MariaDB connector reads the binlog position and GTIDs.
#   BINLOG REPLAY: lets the applier session set gtid_domain_id, its loop-prevention tag.

if [ -z "${SYNC_PASSWORD:-}" ]; then  # sourced, this ends the entrypoint: the init fails
  echo "mysql-init.sh: SYNC_PASSWORD is not set (docker-compose.yaml passes it)" >&2
  exit 1
fi

mps_sync_user_sql() {
  # a string literal in MariaDB's default sql_mode: backslashes and quotes escaped
  local password=${SYNC_PASSWORD//\\/\\\\}
  password=${password//\'/\'\'}
  printf "CREATE USER IF NOT EXISTS 'sync'@'%%' IDENTIFIED BY '%s';\n" "$password"
  cat <<'SQL'
GRANT RELOAD, SHOW DATABASES, REPLICATION SLAVE, BINLOG MONITOR, BINLOG REPLAY ON *.* TO 'sync'@'%';
GRANT SELECT, INSERT, UPDATE, DELETE ON `legacy`.* TO 'sync'@'%';
FLUSH PRIVILEGES;

-- Tables the sync user uses but may not create (as stack/conf/mariadb-bootstrap.sql does locally):
-- Debezium's signal table, and the stream's exactly-once fence (ADR 0007).
CREATE DATABASE IF NOT EXISTS `legacy` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE TABLE IF NOT EXISTS `legacy`.`mps_debezium_signal` (
  id varchar(64) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048) NULL
);
CREATE TABLE IF NOT EXISTS `legacy`.`mps_applied_offsets` (
  group_id varchar(255) NOT NULL, topic varchar(255) NOT NULL, kafka_partition int NOT NULL,
  next_offset bigint NOT NULL, source_position text NULL,
  updated_at timestamp(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
  PRIMARY KEY (group_id, topic, kafka_partition)
) CHARACTER SET utf8mb4;
SQL
}

if declare -F docker_process_sql >/dev/null; then  # sourced by the entrypoint (the usual case)
  mps_sync_user_sql | docker_process_sql
else  # executed (mode +x): the entrypoint's temporary server, as root over its socket
  mps_sync_user_sql | mariadb --protocol=socket -uroot -p"${MARIADB_ROOT_PASSWORD}"
fi
