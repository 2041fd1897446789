"""The harness's three tables on both sides, and their mappings.

``accounts`` (parent, mysql_wins), ``orders`` (child of accounts by a real foreign key with
ON DELETE CASCADE on both sides, last_writer_wins on updated_at) and ``stock`` (composite key,
postgres_wins): every conflict rule and a cross-table foreign key in one run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mysql_pg_sync.mapping.models import TableMapping


@dataclass(frozen=True)
class Table:
    name: str
    key: tuple[str, ...]
    columns: tuple[tuple[str, str], ...]  # (name, MySQL column type)
    rule: str
    rule_column: str | None = None

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c for c, _ in self.columns)


ACCOUNTS = Table(
    "accounts",
    ("id",),
    (
        ("id", "bigint(20)"),
        ("name", "varchar(64)"),
        ("balance", "decimal(12,2)"),
        ("updated_at", "datetime(6)"),
        ("note", "text"),
    ),
    "mysql_wins",
)
ORDERS = Table(
    "orders",
    ("id",),
    (
        ("id", "bigint(20)"),
        ("account_id", "bigint(20)"),
        ("amount", "decimal(12,2)"),
        ("status", "varchar(16)"),
        ("updated_at", "datetime(6)"),
        ("note", "text"),
    ),
    "last_writer_wins",
    "updated_at",
)
STOCK = Table(
    "stock",
    ("sku", "site"),
    (
        ("sku", "varchar(20)"),
        ("site", "int(11)"),
        ("qty", "int(11)"),
        ("updated_at", "datetime(6)"),
    ),
    "postgres_wins",
)
TABLES = (ACCOUNTS, ORDERS, STOCK)

MYSQL_DDL = [
    """CREATE TABLE accounts (id bigint PRIMARY KEY, name varchar(64) NOT NULL,
       balance decimal(12,2) NOT NULL, updated_at datetime(6) NOT NULL, note text)""",
    """CREATE TABLE orders (id bigint PRIMARY KEY, account_id bigint NOT NULL,
       amount decimal(12,2) NOT NULL, status varchar(16) NOT NULL, updated_at datetime(6) NOT NULL,
       note text, CONSTRAINT orders_account FOREIGN KEY (account_id) REFERENCES accounts (id)
       ON DELETE CASCADE)""",
    """CREATE TABLE stock (sku varchar(20) NOT NULL, site int NOT NULL, qty int NOT NULL,
       updated_at datetime(6) NOT NULL, PRIMARY KEY (sku, site))""",
]
PG_DDL = [
    """CREATE TABLE public.accounts (id bigint PRIMARY KEY, name varchar(64) NOT NULL,
       balance numeric(12,2) NOT NULL, updated_at timestamp(6) NOT NULL, note text)""",
    """CREATE TABLE public.orders (id bigint PRIMARY KEY, account_id bigint NOT NULL
       REFERENCES public.accounts (id) ON DELETE CASCADE, amount numeric(12,2) NOT NULL,
       status varchar(16) NOT NULL, updated_at timestamp(6) NOT NULL, note text)""",
    """CREATE TABLE public.stock (sku varchar(20) NOT NULL, site integer NOT NULL,
       qty integer NOT NULL, updated_at timestamp(6) NOT NULL, PRIMARY KEY (sku, site))""",
    # full before-images: the conflict rules compare the target row with the incoming before-image
    *(f"ALTER TABLE public.{t.name} REPLICA IDENTITY FULL" for t in TABLES),
]


def without_foreign_keys(ddl: list[str]) -> list[str]:
    """The same tables with no foreign key: isolates the stream's cross-table ordering."""
    out = []
    for sql in ddl:
        sql = sql.replace(
            ",\n       note text, CONSTRAINT orders_account FOREIGN KEY (account_id) REFERENCES "
            "accounts (id)\n       ON DELETE CASCADE)",
            ",\n       note text)",
        )
        out.append(sql.replace("\n       REFERENCES public.accounts (id) ON DELETE CASCADE", ""))
    if any("REFERENCES" in sql for sql in out):
        raise AssertionError("a foreign key survived; update without_foreign_keys()")
    return out


_NOT_NULL = {"id", "account_id", "sku", "site", "name", "balance", "amount", "status", "qty"}


def mapping(db: str, table: Table) -> TableMapping:
    conflict: dict[str, Any] = {"rule": table.rule}
    if table.rule_column:
        conflict["column"] = table.rule_column
    return TableMapping.model_validate(
        {
            "source": f"{db}.{table.name}",
            "target": f"public.{table.name}",
            "key": list(table.key),
            "columns": [
                {
                    "name": name,
                    "column_type": ctype,
                    "nullable": name not in _NOT_NULL and name != "updated_at",
                }
                for name, ctype in table.columns
            ],
            "direction": "both",
            "conflict": conflict,
        }
    )


def mappings(db: str) -> list[TableMapping]:
    return [mapping(db, t) for t in TABLES]
