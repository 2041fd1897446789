"""MySQL / MariaDB preflight: binlog format, row image, server_id, GTIDs, the sync user's grants."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from mysql_pg_sync.cdc.connector_config import Flavour, detect_flavour
from mysql_pg_sync.cdc.preflight import Finding
from mysql_pg_sync.connections import mysql_connect
from mysql_pg_sync.settings import DatabaseEndpoint

VARIABLES = (
    "log_bin",
    "binlog_format",
    "binlog_row_image",
    "server_id",
    "gtid_mode",
    "enforce_gtid_consistency",
    "gtid_strict_mode",
)
# Debezium's binlog reader: RELOAD/SHOW DATABASES for the schema snapshot, REPLICATION SLAVE to
# read the binlog, REPLICATION CLIENT (MySQL; MariaDB >= 10.5 calls it BINLOG MONITOR) for
# SHOW MASTER STATUS.
GLOBAL_PRIVILEGES: tuple[tuple[str, ...], ...] = (
    ("RELOAD",),
    ("SHOW DATABASES",),
    ("REPLICATION SLAVE",),
    ("REPLICATION CLIENT", "BINLOG MONITOR"),
)
# A name in SHOW GRANTS: `quoted` (a backtick inside doubled), bare, or the * wildcard.
_NAME = r"(?:`(?:[^`]|``)*`|\*|[^\s.`]+)"
_GRANT = re.compile(
    rf"^GRANT (?P<privs>.+?) ON (?:TABLE )?(?P<target>{_NAME}\.{_NAME}) TO ", re.IGNORECASE
)


@dataclass(frozen=True)
class MysqlFacts:
    version: str
    variables: Mapping[str, str]
    grants: tuple[str, ...]
    user: str

    @property
    def flavour(self) -> Flavour:
        return detect_flavour(self.version)


def gather(endpoint: DatabaseEndpoint) -> MysqlFacts:
    conn = mysql_connect(endpoint, autocommit=True)
    try:
        cur = conn.cursor()
        cur.execute("SELECT VERSION(), CURRENT_USER()")
        version, user = cur.fetchone()
        names = ", ".join(f"'{v}'" for v in VARIABLES)
        cur.execute(f"SHOW GLOBAL VARIABLES WHERE Variable_name IN ({names})")
        variables = {str(k).lower(): str(v) for k, v in cur.fetchall()}
        cur.execute("SHOW GRANTS")
        grants = tuple(str(row[0]) for row in cur.fetchall())
    finally:
        conn.close()
    return MysqlFacts(str(version), variables, grants, str(user))


def server_flavour(endpoint: DatabaseEndpoint) -> Flavour:
    """MariaDB or MySQL, from ``SELECT VERSION()``."""
    conn = mysql_connect(endpoint, autocommit=True)
    try:
        cur = conn.cursor()
        cur.execute("SELECT VERSION()")
        return detect_flavour(str(cur.fetchone()[0]))
    finally:
        conn.close()


def check_server(facts: MysqlFacts) -> list[Finding]:
    """Binlog settings Debezium needs (pure)."""
    v = {k: str(val).upper() for k, val in facts.variables.items()}
    found = []
    if v.get("log_bin") != "ON":
        found.append(
            Finding("log_bin", "the binary log is off", "set log_bin=<path> in my.cnf and restart")
        )
    if v.get("binlog_format") != "ROW":
        found.append(
            Finding(
                "binlog_format",
                f"binlog_format is {v.get('binlog_format')}, Debezium needs ROW",
                "set binlog_format=ROW in my.cnf (and SET GLOBAL binlog_format=ROW)",
            )
        )
    if v.get("binlog_row_image") != "FULL":
        found.append(
            Finding(
                "binlog_row_image",
                f"binlog_row_image is {v.get('binlog_row_image')}; updates would lack full rows",
                "set binlog_row_image=FULL in my.cnf",
            )
        )
    if v.get("server_id", "0") in ("0", ""):
        found.append(
            Finding("server_id", "server_id is 0", "set a non-zero server_id in my.cnf and restart")
        )
    if facts.flavour == "mysql":
        for name in ("gtid_mode", "enforce_gtid_consistency"):
            if v.get(name) != "ON":
                found.append(
                    Finding(
                        name,
                        f"{name} is {v.get(name)}; GTIDs carry the loop-prevention tag",
                        f"set {name}=ON in my.cnf (gtid_mode via OFF_PERMISSIVE, ON_PERMISSIVE)",
                    )
                )
    elif v.get("gtid_strict_mode") != "ON":
        found.append(
            Finding(
                "gtid_strict_mode",
                "gtid_strict_mode is OFF; out-of-order GTIDs make positions ambiguous",
                "set gtid_strict_mode=ON in my.cnf",
                "warning",
            )
        )
    return found


def parse_grants(grants: Iterable[str]) -> dict[str, set[str]]:
    """``{"*.*": {"RELOAD", ...}, "`db`.*": {...}}`` from SHOW GRANTS lines."""
    out: dict[str, set[str]] = {}
    for line in grants:
        match = _GRANT.match(line.strip())
        if not match:
            continue
        privs = {p.strip().upper() for p in _split_privileges(match["privs"])}
        if "ALL PRIVILEGES" in privs or "ALL" in privs:
            privs = {"ALL"}
        out.setdefault(match["target"], set()).update(privs)
    return out


def check_grants(
    facts: MysqlFacts,
    databases: Iterable[str],
    signal_db: str,
    tables: Iterable[str] = (),
    signal_table: str | None = None,
) -> list[Finding]:
    """The sync user's privileges for capture and for incremental-snapshot watermarks (pure).

    Database-level grants (``db.*``, wildcards included) and table-level ones on the captured
    ``tables`` (``db.table``) and on ``signal_table`` both count.
    """
    granted = parse_grants(facts.grants)
    by_db: dict[str, list[str]] = {}
    for name in tables:
        db, _, table = name.partition(".")
        by_db.setdefault(db, []).append(table)
    found = []
    missing_global = [
        alternatives[0] if facts.flavour == "mysql" else alternatives[-1]
        for alternatives in GLOBAL_PRIVILEGES
        if not any(_has(granted, "*.*", p) for p in alternatives)
    ]
    if missing_global:
        found.append(
            Finding(
                "grants",
                f"{facts.user} lacks {', '.join(missing_global)} ON *.*",
                f"GRANT {', '.join(missing_global)} ON *.* TO {facts.user}",
            )
        )
    for db in sorted(set(databases)):
        listed = by_db.get(db, [])
        if listed and all(_has_on_table(granted, db, t, "SELECT") for t in listed):
            continue
        if not _has_on_db(granted, db, "SELECT"):
            found.append(
                Finding(
                    "grants",
                    f"{facts.user} cannot SELECT in database {db}",
                    f"GRANT SELECT ON `{db}`.* TO {facts.user}",
                )
            )
    signal_db, _, signal_name = (signal_table or f"{signal_db}.").partition(".")
    on_table = bool(signal_name) and _has_on_table(granted, signal_db, signal_name, "INSERT")
    if not on_table and not _has_on_db(granted, signal_db, "INSERT"):
        found.append(
            Finding(
                "grants",
                f"{facts.user} cannot INSERT into the signal table in {signal_db} "
                "(incremental snapshots write their watermarks there)",
                f"GRANT INSERT ON `{signal_db}`.* TO {facts.user}",
            )
        )
    return found


def run(
    endpoint: DatabaseEndpoint,
    databases: Iterable[str],
    tables: Iterable[str] = (),
    signal_table: str | None = None,
) -> list[Finding]:
    """Every MySQL check for the captured databases (the endpoint's own holds the signal table);
    with the captured ``tables`` and the ``signal_table``, table-level grants on them count."""
    facts = gather(endpoint)
    return check_server(facts) + check_grants(
        facts, databases, endpoint.database, tables, signal_table
    )


def _split_privileges(text: str) -> list[str]:
    """Split on commas outside parentheses (column grants: ``SELECT (a, b)``)."""
    parts, depth, current = [], 0, ""
    for ch in text:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return [p for p in parts if "(" not in p]  # column-level grants do not cover whole tables


def _has(granted: Mapping[str, set[str]], target: str, privilege: str) -> bool:
    privs = granted.get(target, set())
    return privilege in privs or "ALL" in privs


def _unquote(name: str) -> str:
    """`a``b` -> a`b; a bare name stays as it is."""
    if len(name) >= 2 and name[0] == name[-1] == "`":
        return name[1:-1].replace("``", "`")
    return name


def _split_target(target: str) -> tuple[str, str]:
    """``"`db`.`t`"`` -> ``("`db`", "`t`")``, splitting on the dot outside backticks."""
    quoted = False
    for i, ch in enumerate(target):
        if ch == "`":
            quoted = not quoted  # a doubled backtick toggles twice: still inside
        elif ch == "." and not quoted:
            return target[:i], target[i + 1 :]
    return target, ""


def _has_on_table(granted: Mapping[str, set[str]], db: str, table: str, privilege: str) -> bool:
    """A table-level grant (names are literal there: no wildcards, unlike database grants);
    MySQL compares table names case-insensitively on most setups, so this does too."""
    for target, privs in granted.items():
        db_part, table_part = _split_target(target)
        if table_part == "*" or not (privilege in privs or "ALL" in privs):
            continue
        if _unquote(db_part) == db and _unquote(table_part).lower() == table.lower():
            return True
    return False


def _has_on_db(granted: Mapping[str, set[str]], db: str, privilege: str) -> bool:
    if _has(granted, "*.*", privilege):
        return True
    for target, privs in granted.items():
        if not target.endswith(".*") or target == "*.*":
            continue
        pattern = _unquote(target[:-2])
        if _like(pattern, db) and (privilege in privs or "ALL" in privs):
            return True
    return False


def _like(pattern: str, value: str) -> bool:
    """MySQL's database-grant wildcards: ``%``, ``_`` and backslash escapes."""
    regex, i = "", 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            regex += re.escape(pattern[i + 1])
            i += 2
            continue
        regex += ".*" if ch == "%" else "." if ch == "_" else re.escape(ch)
        i += 1
    return re.fullmatch(regex, value) is not None
