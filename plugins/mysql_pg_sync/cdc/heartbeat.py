"""A running stream consumer's sign of life in ``mps_sync.stream_runs.heartbeat_at``, with its
summary so far (a service's run never ends, so its summary would only be written at exit)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import psycopg

log = logging.getLogger(__name__)
HEARTBEAT_EVERY_S = 30.0
# the status page calls a consumer alive while its last beat is younger than this
ALIVE_WITHIN_S = 4 * HEARTBEAT_EVERY_S


class Heartbeat:
    """Stamps a run at most every ``every_s`` seconds, on a connection of its own: the
    consumer's state connection may be inside a batch's transaction when ``beat`` is called.
    With ``summary``, each stamp also writes what it returns as the run's summary so far.
    A failed beat is logged and retried at the next one; it never stops the stream."""

    def __init__(
        self,
        connect: Callable[[], psycopg.Connection[Any]],
        run_id: str,
        every_s: float = HEARTBEAT_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
        summary: Callable[[], Mapping[str, Any]] | None = None,
    ) -> None:
        self._connect, self.run_id, self.every_s, self._clock = connect, run_id, every_s, clock
        self._summary = summary
        self._conn: psycopg.Connection[Any] | None = None
        self._last = clock()

    def beat(self) -> None:
        if self._clock() - self._last < self.every_s:
            return
        self._last = self._clock()
        try:
            if self._conn is None or self._conn.closed:
                self._conn = self._connect()
                self._conn.autocommit = True
            summary = None if self._summary is None else self._summary()
            self._conn.execute(
                "UPDATE mps_sync.stream_runs SET heartbeat_at = now(),"
                " summary = coalesce(%s::jsonb, summary) WHERE run_id = %s AND finished_at IS NULL",
                (None if summary is None else json.dumps(summary, default=str), self.run_id),
            )
        except psycopg.Error as exc:
            log.warning("stream heartbeat not recorded (%s); the stream goes on", exc)
            self.close()

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except psycopg.Error:
                pass
            self._conn = None
