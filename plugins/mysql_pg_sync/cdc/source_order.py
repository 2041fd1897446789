"""Where a change sits in its source's log, as a tuple that sorts in log order (pure).

Debezium delivers at least once: after a Kafka Connect or broker restart a source connector
re-reads its log from the last position it committed and emits those changes again, under new
Kafka offsets. Applied a second time, an old change can overwrite a newer row (a fixed-winner
rule lets it win again; a resurrected insert outlives its delete). Every partition carries its
changes in log order, so a change that does not sort after the last one applied from that
partition is such a duplicate.

- MariaDB/MySQL: (server id, binlog file number, position of the row event, row within the
  event, half). Positions only compare within one server's binlog: after a failover to a server
  with other numbering, a lower position is a new change, not a duplicate (:func:`is_duplicate`).
  An UPDATE that changes the primary key is one row of the binlog, which Debezium sends as a
  delete of the old key and a create of the new one at the same position: the half (0 for the
  delete, 1 otherwise) sorts the create after its delete, which a partition holding both keys
  took for a resent duplicate (the new row never reached the target).
- PostgreSQL: (0, LSN of the commit before the transaction, order within the transaction), from
  Debezium's ``source.sequence`` and the transaction metadata (``provide.transaction.metadata``);
  without that metadata, the change's own LSN stands in for the order within the transaction.
  The first transaction after a connector starts without offsets (a new connector or slot) has
  no previous commit: it gets no order, rather than sorting below everything applied before.

Snapshot reads (op ``r``) carry the position at which the snapshot chunk was read, not a log
position of their own, so they get no order and are never taken for duplicates.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

SourceOrder = tuple[int, ...]


def source_order(
    side: str, op: str, source: Mapping[str, Any], transaction: Mapping[str, Any] | None
) -> SourceOrder | None:
    if op == "r":
        return None
    try:
        if side == "mysql":
            file, pos = source.get("file"), source.get("pos")
            if not file or pos is None:
                return None
            server = int(source.get("server_id") or 0)
            file_no = int(str(file).rsplit(".", 1)[-1])
            half = 0 if op == "d" else 1
            return (server, file_no, int(pos), int(source.get("row") or 0), half)
        sequence = source.get("sequence")
        if not sequence:
            return None
        last_commit, lsn = json.loads(sequence) if isinstance(sequence, str) else sequence
        if last_commit is None:
            return None
        within = (transaction or {}).get("total_order")
        return (0, int(last_commit), int(within if within is not None else lsn or 0))
    except (TypeError, ValueError):
        return None  # an unexpected shape: no duplicate check rather than a wrong one


def is_duplicate(order: SourceOrder, high: SourceOrder) -> bool:
    """``order`` was applied already: it does not sort after ``high`` in the same log. Orders
    of another server (or stored in an older shape) are never duplicates."""
    return len(order) == len(high) and order[0] == high[0] and order[1:] <= high[1:]


def dump(order: SourceOrder | None) -> str | None:
    return None if order is None else json.dumps(list(order))


def load(text: str | None) -> SourceOrder | None:
    return None if not text else tuple(int(v) for v in json.loads(text))
