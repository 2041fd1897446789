"""Faults injected while the workload runs, and the consumer process they are aimed at.

Every fault is real: a SIGKILL of the consumer (run as ``python -m mysql_pg_sync stream``), a
connector paused through the Connect REST API, garbage produced to a source topic, and
``stack/stack down|up <service>`` for Kafka Connect, Kafka, MariaDB and PostgreSQL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from confluent_kafka import Producer
from tests.integration.stream_harness import Pipeline

from mysql_pg_sync.cdc.connect_client import ConnectClient
from mysql_pg_sync.cdc.connector_lifecycle import pause, restart_failed, resume, wait_for_state

REPO = Path(__file__).resolve().parents[3]
SERVICE_FAULTS = {
    "connect_restart": "connect",
    "kafka_restart": "kafka",
    "mariadb_restart": "mariadb",
    "postgres_restart": "postgres",
}
FAULTS = (
    "consumer_kill",
    "pause_mysql_connector",
    "pause_postgres_connector",
    "poison",
    *SERVICE_FAULTS,
)
POISON_VALUE = b"\xff\x00 poison: not a Debezium envelope"


class ConsumerProcess:
    """The stream service in its own process, restarted when it dies (as a supervisor would)."""

    def __init__(self, pipeline: Pipeline, mappings: Path, log: Path, instance: str) -> None:
        self.env = {
            **os.environ,
            **pipeline.env(),
            "MPS_STREAM_BATCH_EVENTS": "500",
            "MPS_STREAM_BATCH_MS": "200",
            # static membership: the restarted process takes its partitions back at once
            "MPS_STREAM_INSTANCE_ID": instance,
            "MPS_PG_ORIGIN": pipeline.config.tags.pg_origin,
            "MPS_GTID_DOMAIN": str(pipeline.config.tags.mariadb_gtid_domain),
            # decode what the harness's connectors write
            "MPS_CONNECT_CONVERTER": pipeline.settings.converter,
        }
        self.mappings = mappings
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.unplanned_exits: list[int] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        with self._lock, self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "mysql_pg_sync", "stream", "--mappings", str(self.mappings)],
                env=self.env,
                cwd=REPO,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
            self.starts += 1

    def kill9(self) -> None:
        with self._lock:
            assert self.proc is not None
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)
            self.proc = None
        self.start()

    def ensure_running(self) -> None:
        """Restart after a crash (e.g. a server it needs went away); the exit is recorded."""
        with self._lock:
            code = self.proc.poll() if self.proc is not None else None
            if code is None:
                return
            self.unplanned_exits.append(code)
            self.proc = None
        self.start()

    def stop(self) -> None:
        with self._lock:
            if self.proc is None:
                return
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(30)
            self.proc = None


@dataclass
class FaultRecord:
    name: str
    at_transaction: int
    seconds: float
    detail: str = ""


@dataclass
class Faults:
    """Runs the scheduled faults; each one is healed before the next starts."""

    pipeline: Pipeline
    consumer: ConsumerProcess
    progress: Callable[[], int]
    poison_keys: list[bytes] = field(default_factory=list)
    done: list[FaultRecord] = field(default_factory=list)

    @property
    def client(self) -> ConnectClient:
        return ConnectClient(self.pipeline.endpoints.connect_url)

    def inject(self, name: str, span: int) -> None:
        """``span``: transactions the workload writes while a paused connector stays paused."""
        started, at = time.monotonic(), self.progress()
        if name in SERVICE_FAULTS:
            detail = self._service(SERVICE_FAULTS[name])
        else:
            detail = getattr(self, f"_{name}")(span)
        self.heal()
        self.done.append(FaultRecord(name, at, round(time.monotonic() - started, 1), detail))

    def _consumer_kill(self, span: int) -> str:
        pid = self.consumer.proc.pid if self.consumer.proc else None
        self.consumer.kill9()
        return f"SIGKILL pid {pid}"

    def _pause(self, connector: str, span: int) -> str:
        pause(self.client, connector, timeout_s=120)
        target = self.progress() + span
        _poll(lambda: self.progress() >= target, 300, f"{span} transactions while paused")
        resume(self.client, connector, timeout_s=120)
        return f"{connector} paused for {span} transactions"

    def _pause_mysql_connector(self, span: int) -> str:
        return self._pause(self.pipeline.settings.mysql_connector, span)

    def _pause_postgres_connector(self, span: int) -> str:
        return self._pause(self.pipeline.settings.postgres_connector, span)

    def _poison(self, span: int) -> str:
        p = self.pipeline
        db = p.endpoints.mysql.database
        topic = f"{p.config.mysql_topic_prefix}.{db}.accounts"
        key = f'{{"poison": {len(self.poison_keys)}}}'.encode()
        producer = Producer({"bootstrap.servers": p.endpoints.kafka_bootstrap})
        producer.produce(topic, key=key, value=POISON_VALUE)
        if producer.flush(60) != 0:
            raise AssertionError(f"poison message to {topic} not delivered")
        self.poison_keys.append(key)
        return f"garbage value on {topic}"

    def _service(self, service: str) -> str:
        for action in ("down", "up"):
            subprocess.run(
                ["bash", str(REPO / "stack" / "stack"), action, service],
                check=True,
                cwd=REPO,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.STDOUT,
                timeout=300,
            )
        return f"stack down/up {service}"

    def heal(self, timeout_s: float = 300) -> None:
        """Both connectors RUNNING (failed tasks restarted) and the consumer process alive."""
        settings = self.pipeline.settings
        for name in (settings.mysql_connector, settings.postgres_connector):
            _poll(lambda n=name: self._running(n), timeout_s, f"connector {name} RUNNING")
        self.consumer.ensure_running()

    def _running(self, name: str) -> bool:
        try:
            if self.client.status(name).is_failed:
                restart_failed(self.client, name, timeout_s=120)
            wait_for_state(self.client, name, "RUNNING", timeout_s=5)
            return True
        except Exception:  # Connect itself may still be starting: keep polling
            return False


def _poll(done: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not reached within {timeout_s} s")
        time.sleep(0.5)
