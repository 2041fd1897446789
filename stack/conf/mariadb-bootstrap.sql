-- Idempotent: users and the demo database. Run as the socket-authenticated root on every `up`.
CREATE DATABASE IF NOT EXISTS `@DATABASE@` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;

-- Administrator for tests and demo setup (local stack only).
CREATE USER IF NOT EXISTS '@ADMIN_USER@'@'127.0.0.1' IDENTIFIED BY '@ADMIN_PASSWORD@';
CREATE USER IF NOT EXISTS '@ADMIN_USER@'@'localhost' IDENTIFIED BY '@ADMIN_PASSWORD@';
GRANT ALL PRIVILEGES ON *.* TO '@ADMIN_USER@'@'127.0.0.1' WITH GRANT OPTION;
GRANT ALL PRIVILEGES ON *.* TO '@ADMIN_USER@'@'localhost' WITH GRANT OPTION;

-- The sync user: least privilege for Debezium capture, backfill reads and the PG->MySQL applier.
--   SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, BINLOG MONITOR: Debezium MariaDB connector.
--   SELECT/INSERT/UPDATE/DELETE on the synced database: backfill reads, applier writes, signal table.
--   BINLOG REPLAY: lets the applier session set gtid_domain_id, its loop-prevention tag (MariaDB
--   10.11 asks for SUPER or BINLOG REPLAY; BINLOG REPLAY is the smaller grant).
CREATE USER IF NOT EXISTS '@SYNC_USER@'@'127.0.0.1' IDENTIFIED BY '@SYNC_PASSWORD@';
CREATE USER IF NOT EXISTS '@SYNC_USER@'@'localhost' IDENTIFIED BY '@SYNC_PASSWORD@';
ALTER USER '@SYNC_USER@'@'127.0.0.1' IDENTIFIED BY '@SYNC_PASSWORD@';
ALTER USER '@SYNC_USER@'@'localhost' IDENTIFIED BY '@SYNC_PASSWORD@';
GRANT RELOAD, SHOW DATABASES, REPLICATION SLAVE, BINLOG MONITOR, BINLOG REPLAY ON *.* TO '@SYNC_USER@'@'127.0.0.1';
GRANT RELOAD, SHOW DATABASES, REPLICATION SLAVE, BINLOG MONITOR, BINLOG REPLAY ON *.* TO '@SYNC_USER@'@'localhost';
GRANT SELECT, INSERT, UPDATE, DELETE ON `@DATABASE@`.* TO '@SYNC_USER@'@'127.0.0.1';
GRANT SELECT, INSERT, UPDATE, DELETE ON `@DATABASE@`.* TO '@SYNC_USER@'@'localhost';
-- Test databases are named mps_test_*; the suite creates them as admin.
GRANT SELECT, INSERT, UPDATE, DELETE ON `mps\_test\_%`.* TO '@SYNC_USER@'@'127.0.0.1';
GRANT SELECT, INSERT, UPDATE, DELETE ON `mps\_test\_%`.* TO '@SYNC_USER@'@'localhost';
-- Older stacks granted REPLICATION SLAVE ADMIN for the same purpose; it is not needed.
REVOKE REPLICATION SLAVE ADMIN ON *.* FROM '@SYNC_USER@'@'127.0.0.1', '@SYNC_USER@'@'localhost';
FLUSH PRIVILEGES;

-- Debezium's signal table (incremental snapshots) in the synced database: created here by the
-- administrator so the sync user needs no CREATE privilege (it only INSERTs signals).
CREATE TABLE IF NOT EXISTS `@DATABASE@`.`mps_debezium_signal` (
  id varchar(64) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048) NULL
);

-- The stream's exactly-once fence for changes applied to MySQL: created here by the
-- administrator, the applier only reads and upserts it (see dialects/mysql.py).
CREATE TABLE IF NOT EXISTS `@DATABASE@`.`mps_applied_offsets` (
  group_id varchar(255) NOT NULL, topic varchar(255) NOT NULL, kafka_partition int NOT NULL,
  next_offset bigint NOT NULL, source_position text NULL,
  updated_at timestamp(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
  PRIMARY KEY (group_id, topic, kafka_partition)
) CHARACTER SET utf8mb4;
-- stacks made before the column existed
ALTER TABLE `@DATABASE@`.`mps_applied_offsets` ADD COLUMN IF NOT EXISTS source_position text NULL AFTER next_offset;
