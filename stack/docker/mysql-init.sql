-- MySQL 8.4 in docker-compose: the sync user with least privilege for Debezium + the applier.
CREATE USER IF NOT EXISTS 'sync'@'%' IDENTIFIED BY 'sync-local-only';
GRANT RELOAD, SHOW DATABASES, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'sync'@'%';
GRANT SELECT, INSERT, UPDATE, DELETE ON `legacy`.* TO 'sync'@'%';
FLUSH PRIVILEGES;
