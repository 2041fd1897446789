"""Find a statement in MySQL's binlog from a source connector's position: the database it ran
in (``use``), which the connector's failure trace does not say."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)

PAGE = 1000  # events a SHOW BINLOG EVENTS reads at a time
MAX_EVENTS = 500_000  # how far past the position to look before giving up


def split_use(info: str) -> tuple[str | None, str]:
    """A Query event's Info, ``use `db`; statement`` or the statement alone, as (db, stmt)."""
    if not info.startswith("use `"):
        return None, info
    name, i = [], 5
    while i < len(info):
        if info[i] == "`":
            if info.startswith("``", i):
                name.append("`")
                i += 2
                continue
            break
        name.append(info[i])
        i += 1
    rest = info[i + 1 :]
    return "".join(name), rest[2:] if rest.startswith("; ") else rest.lstrip("; ")


def _text(value: Any) -> str:
    # the connection hands out bytes: an event's text need not be valid UTF-8 (a binary
    # value in a statement), and one such event must not stop the search
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def statement_database(
    conn: Any, file: str, pos: int, statement: str, max_events: int = MAX_EVENTS
) -> tuple[bool, str | None]:
    """(found, database) of the first Query event at or after ``file``:``pos`` whose statement
    is ``statement``; (False, None) when none is within ``max_events`` events. ``conn``: a
    MySQL connection made with ``use_unicode=False``."""
    cur = conn.cursor()
    cur.execute("SHOW BINARY LOGS")
    files = [_text(r[0]) for r in cur.fetchall()]
    if file not in files:
        return False, None
    seen = 0
    for name in files[files.index(file) :]:
        at = pos if name == file else 4
        while seen < max_events:
            cur.execute(f"SHOW BINLOG EVENTS IN %s FROM {int(at)} LIMIT {PAGE}", (name,))
            rows = cur.fetchall()
            for _log, _pos, kind, _server, end, info in rows:
                if _text(kind) == "Query":
                    db, text = split_use(_text(info))
                    if text.strip() == statement.strip():
                        return True, db
                at = int(end)
            seen += len(rows)
            if len(rows) < PAGE:
                break
    log.info("statement not found in the binlog within %d events of %s:%d", seen, file, pos)
    return False, None
