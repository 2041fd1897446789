-- Demo legacy schema (MariaDB/MySQL): realistic CodeIgniter-era types on purpose:
-- unsigned keys, decimals, datetimes, tinyint(1) flags, enum, set, JSON, utf8mb4 text,
-- a composite key, a reserved-word table name and a keyless log table (refused by the sync).
CREATE TABLE IF NOT EXISTS customers (
  id          INT UNSIGNED NOT NULL AUTO_INCREMENT,
  email       VARCHAR(191) NOT NULL,
  full_name   VARCHAR(100) NOT NULL,
  is_active   TINYINT(1) NOT NULL DEFAULT 1,
  tier        ENUM('free','pro','enterprise') NOT NULL DEFAULT 'free',
  balance     DECIMAL(12,2) NOT NULL DEFAULT 0.00,
  profile     JSON NULL,
  notes       TEXT NULL,
  created_at  DATETIME NOT NULL,
  updated_at  TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
  PRIMARY KEY (id),
  UNIQUE KEY uq_customers_email (email)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS products (
  id          BIGINT UNSIGNED NOT NULL,
  sku         VARCHAR(32) NOT NULL,
  name        VARCHAR(200) NOT NULL,
  price       DECIMAL(10,2) NOT NULL,
  weight_kg   DOUBLE NULL,
  tags        SET('new','sale','eco') NOT NULL DEFAULT '',
  attributes  JSON NULL,
  released    DATE NULL,
  updated_at  DATETIME(6) NOT NULL,
  PRIMARY KEY (id),
  KEY ix_products_sku (sku)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS orders (
  id            INT UNSIGNED NOT NULL AUTO_INCREMENT,
  customer_id   INT UNSIGNED NOT NULL,
  status        ENUM('new','paid','shipped','cancelled') NOT NULL DEFAULT 'new',
  total         DECIMAL(12,2) NOT NULL,
  paid          TINYINT(1) NOT NULL DEFAULT 0,
  shipping_note VARCHAR(255) NULL,
  placed_at     DATETIME(6) NOT NULL,
  updated_at    TIMESTAMP(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
  PRIMARY KEY (id),
  KEY ix_orders_customer (customer_id),
  CONSTRAINT fk_orders_customer FOREIGN KEY (customer_id) REFERENCES customers (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS order_items (
  order_id    INT UNSIGNED NOT NULL,
  line_no     SMALLINT UNSIGNED NOT NULL,
  product_id  BIGINT UNSIGNED NOT NULL,
  qty         SMALLINT UNSIGNED NOT NULL,
  unit_price  DECIMAL(10,2) NOT NULL,
  PRIMARY KEY (order_id, line_no),
  CONSTRAINT fk_items_order FOREIGN KEY (order_id) REFERENCES orders (id),
  CONSTRAINT fk_items_product FOREIGN KEY (product_id) REFERENCES products (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS `group` (
  id     SMALLINT UNSIGNED NOT NULL,
  `Name` VARCHAR(64) NOT NULL,
  PRIMARY KEY (id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS audit_log (
  happened_at DATETIME NOT NULL,
  message     TEXT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
