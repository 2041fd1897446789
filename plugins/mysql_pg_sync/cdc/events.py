"""The decoded change event: one row change from either database, independent of the wire format."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Side = Literal["mysql", "postgres"]
Op = Literal["c", "u", "d", "r", "t"]  # t: TRUNCATE, a table event with no key or images
SIDE_NAMES: dict[Side, str] = {"mysql": "MySQL", "postgres": "PostgreSQL"}


def other_side(side: Side) -> Side:
    return "postgres" if side == "mysql" else "mysql"


class _Unavailable:
    """PostgreSQL left a TOASTed value out of the event: keep the target's current value."""

    _instance: _Unavailable | None = None

    def __new__(cls) -> _Unavailable:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNAVAILABLE"


UNAVAILABLE: Any = _Unavailable()


# Not frozen: a frozen dataclass sets each field through object.__setattr__, and building these
# two per message cost ~2 us of the consumer's ~50 us per event. Nothing mutates them.
@dataclass(slots=True)
class KafkaPosition:
    topic: str
    partition: int
    offset: int


@dataclass(slots=True)
class ChangeEvent:
    """One row change as Debezium saw it, values decoded to the source driver's Python types.

    ``before``/``after`` are keyed by the *source* column names; ``key`` holds the key values in
    the order of the Debezium key struct.
    """

    side: Side  # where the change happened
    namespace: str  # MySQL database or PostgreSQL schema
    table: str
    op: Op
    key: Mapping[str, Any]
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None
    source_ts_ms: int  # commit time at the source
    origin: str | None = None  # PostgreSQL replication origin of the writing session
    gtid: str | None = None  # MariaDB/MySQL GTID of the transaction
    server_id: int | None = None
    position: KafkaPosition | None = None
    fields: tuple[str, ...] = field(default=())  # columns in the event's schema (drift check)
    source_order: tuple[int, ...] | None = None  # log order at the source (see source_order.py)

    @property
    def source_table(self) -> str:
        return f"{self.namespace}.{self.table}"

    @property
    def is_delete(self) -> bool:
        return self.op == "d"

    @property
    def image(self) -> Mapping[str, Any]:
        """The row image that identifies the change: after, or before for a delete."""
        image = self.before if self.op == "d" else self.after
        return image if image is not None else self.key

    def key_tuple(self) -> tuple[Any, ...]:
        return tuple(self.key.values())

    def unavailable_columns(self) -> frozenset[str]:
        if self.after is None:
            return frozenset()
        return frozenset(k for k, v in self.after.items() if v is UNAVAILABLE)
