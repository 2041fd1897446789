-- MariaDB 10.11 in docker-compose: the sync user with least privilege for Debezium + the applier,
-- as stack/conf/mariadb-bootstrap.sql grants it locally (tests/unit/test_compose_file.py compares).
--   BINLOG MONITOR: Debezium's MariaDB connector reads the binlog position and GTIDs.
--   BINLOG REPLAY: lets the applier session set gtid_domain_id, its loop-prevention tag.
CREATE USER IF NOT EXISTS 'sync'@'%' IDENTIFIED BY 'sync-local-only';
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
