"""Streaming apply benchmark: our consumer vs Debezium's JDBC sink, and end-to-end lag.

    python -m bench.stream [--events 500000] [--runs 3] [--jdbc-runs 1] [--lag-seconds 30]

1. Fills one MariaDB table's Debezium topic with ``--events`` change events (half inserts, half
   updates of the same rows, as captured by the real MariaDB connector).
2. Applies the same topic to PostgreSQL with one process of our consumer (``--runs`` times, a
   fresh consumer group and an empty target each time) and with Debezium's JDBC sink connector
   (io.debezium.connector.jdbc.JdbcSinkConnector, one task, upsert + delete, batch.size 5000).
   Done = the target holds the final state (row count and the sum of the updated column).
3. Drives a steady ``--rate`` changes/s into MariaDB for ``--lag-seconds`` with our consumer
   running and measures end-to-end lag per applied row version: MariaDB write time (NOW(6)) to
   the PostgreSQL write time (a trigger logs clock_timestamp()); same host, same clock.
Prints and returns medians and ratios as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import replace
from typing import Any

import requests

from mysql_pg_sync.cdc.connect_client import ConnectClient
from mysql_pg_sync.cdc.connector_config import ConnectorSettings, render_connectors
from mysql_pg_sync.cdc.connector_lifecycle import apply_connector, wait_for_state
from mysql_pg_sync.cdc.connector_lifecycle import delete as delete_connector
from mysql_pg_sync.cdc.consumer import StreamConfig, StreamConsumer
from mysql_pg_sync.cdc.metrics import percentile
from mysql_pg_sync.cdc.topics import delete_topics, message_count
from mysql_pg_sync.connections import mysql_connect, pg_connect
from mysql_pg_sync.mapping.models import MappingSet, TableMapping
from mysql_pg_sync.settings import Endpoints, admin_endpoints, endpoints_from_env

SECRETS = os.path.abspath(".stack/secrets/connect.properties")
MYSQL_DDL = """CREATE TABLE items (
  id bigint PRIMARY KEY, name varchar(64), qty int, price decimal(12,2),
  updated_at datetime(6) NOT NULL, note text)"""
PG_DDL = """CREATE TABLE public.items (
  id bigint PRIMARY KEY, name varchar(64), qty integer, price numeric(12,2),
  updated_at timestamp(6) NOT NULL, note text)"""
LAG_DDL = [
    "CREATE TABLE public.lag_log (written timestamp(6), applied timestamp(6))",
    """CREATE FUNCTION public.log_lag() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN INSERT INTO public.lag_log VALUES (NEW.updated_at,
             clock_timestamp() AT TIME ZONE 'UTC'); RETURN NEW; END $$""",
    "CREATE TRIGGER log_lag AFTER INSERT OR UPDATE ON public.items "
    "FOR EACH ROW EXECUTE FUNCTION public.log_lag()",
    # the applier session runs with session_replication_role = replica (ADR 0006), where
    # ordinary triggers do not fire
    "ALTER TABLE public.items ENABLE ALWAYS TRIGGER log_lag",
]
CHUNK = 5_000
STACK = os.path.abspath(".stack")
JDBC_WORKER_PORT = 8093
# The shared Connect worker cannot start the JDBC sink: the plugin bundles Jackson 2.19 while
# the worker's classpath registers jackson-module-blackbird 2.21 as a service, and Hibernate's
# ObjectMapper.findAndRegisterModules() fails with "BlackbirdModule not a subtype". The bench
# runs the sink in its own standalone worker with the plugin's Jackson jars removed, so the
# plugin uses the worker's Jackson; the real fix belongs in stack/maven/debezium-jdbc.pom.xml.
_PLUGIN_JACKSON = ("jackson-annotations-", "jackson-core-", "jackson-databind-")


class JdbcWorker:
    """A standalone Kafka Connect worker hosting only the Debezium JDBC sink."""

    def __init__(self, bootstrap: str) -> None:
        self.dir = tempfile.mkdtemp(prefix="mps_jdbc_worker_")
        plugin = os.path.join(self.dir, "plugins", "debezium-jdbc")
        shutil.copytree(os.path.join(STACK, "lib", "plugins", "debezium-jdbc"), plugin)
        for jar in os.listdir(plugin):
            if jar.startswith(_PLUGIN_JACKSON):
                os.remove(os.path.join(plugin, jar))
        props = os.path.join(self.dir, "worker.properties")
        with open(props, "w") as f:
            f.write(
                f"bootstrap.servers={bootstrap}\n"
                f"listeners=http://127.0.0.1:{JDBC_WORKER_PORT}\n"
                "key.converter=org.apache.kafka.connect.json.JsonConverter\n"
                "value.converter=org.apache.kafka.connect.json.JsonConverter\n"
                f"offset.storage.file.filename={self.dir}/offsets\n"
                "offset.flush.interval.ms=1000\n"
                f"plugin.path={self.dir}/plugins\n"
                "config.providers=file\n"
                "config.providers.file.class="
                "org.apache.kafka.common.config.provider.FileConfigProvider\n"
            )
        self.log = open(os.path.join(self.dir, "worker.log"), "wb")  # noqa: SIM115  (lives as long as the worker)
        self.proc = subprocess.Popen(
            [
                "java",
                "-Xms256m",
                "-Xmx1g",
                "-cp",
                os.path.join(STACK, "lib", "kafka", "*"),
                "org.apache.kafka.connect.cli.ConnectStandalone",
                props,
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self.url = f"http://127.0.0.1:{JDBC_WORKER_PORT}"
        deadline = time.monotonic() + 120
        while True:
            try:
                if requests.get(self.url + "/connector-plugins", timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"standalone JDBC worker did not start; see {self.dir}/worker.log"
                )
            time.sleep(0.5)

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def mapping(db: str) -> TableMapping:
    return TableMapping.model_validate(
        {
            "source": f"{db}.items",
            "target": "public.items",
            "key": ["id"],
            "direction": "mysql_to_pg",
            "columns": [
                {"name": "id", "column_type": "bigint(20)", "nullable": False},
                {"name": "name", "column_type": "varchar(64)"},
                {"name": "qty", "column_type": "int(11)"},
                {"name": "price", "column_type": "decimal(12,2)"},
                {"name": "updated_at", "column_type": "datetime(6)", "nullable": False},
                {"name": "note", "column_type": "text"},
            ],
        }
    )


class Bench:
    def __init__(self, events: int) -> None:
        self.base = endpoints_from_env()
        self.tag = uuid.uuid4().hex[:8]
        self.rows = events // 2
        self.mysql_admin, self.pg_admin = admin_endpoints()
        self.db = f"mps_test_bench_{self.tag}"  # the sync user has rights on mps_test_*
        self.pg_ours = f"mps_bench_ours_{self.tag}"
        self.pg_jdbc = f"mps_bench_jdbc_{self.tag}"
        self.settings = ConnectorSettings(prefix=f"mpsb{self.tag}")
        self.client = ConnectClient(self.base.connect_url)
        self.connectors: list[str] = []
        self.topic = f"{self.settings.mysql_topic_prefix}.{self.db}.items"

    # -- setup and teardown ---------------------------------------------------------------------

    def endpoints(self, pg_db: str) -> Endpoints:
        return replace(
            self.base,
            mysql=replace(self.base.mysql, database=self.db),
            postgres=replace(self.base.postgres, database=pg_db),
        )

    def setup(self) -> None:
        conn = mysql_connect(replace(self.mysql_admin, database="mysql"), autocommit=True)
        conn.cursor().execute(f"CREATE DATABASE `{self.db}`")
        conn.cursor().execute(f"USE `{self.db}`")
        conn.cursor().execute(MYSQL_DDL)
        conn.cursor().execute("GRANT BINLOG REPLAY ON *.* TO 'sync'@'127.0.0.1'")
        conn.close()
        with pg_connect(replace(self.pg_admin, database="postgres"), autocommit=True) as pg:
            for db in (self.pg_ours, self.pg_jdbc):
                pg.execute(f'CREATE DATABASE "{db}" OWNER "{self.base.postgres.user}"')  # type: ignore[arg-type]
        for db in (self.pg_ours, self.pg_jdbc):
            with pg_connect(replace(self.pg_admin, database=db), autocommit=True) as pg:
                pg.execute(
                    "GRANT EXECUTE ON FUNCTION pg_replication_origin_session_setup(text) TO sync"
                )
            with pg_connect(replace(self.base.postgres, database=db), autocommit=True) as pg:
                pg.execute(PG_DDL)
        [source] = render_connectors(
            MappingSet((mapping(self.db),)), self.endpoints(self.pg_ours), self.settings, "mariadb"
        )
        apply_connector(self.client, source, timeout_s=120)
        self.connectors.append(source.name)

    def teardown(self) -> None:
        for name in self.connectors:
            delete_connector(self.client, name, timeout_s=60)  # its task stops first
        delete_topics(self.base.kafka_bootstrap, [self.settings.prefix])  # ~0.7 GB per run
        conn = mysql_connect(replace(self.mysql_admin, database="mysql"), autocommit=True)
        conn.cursor().execute(f"DROP DATABASE IF EXISTS `{self.db}`")
        conn.close()
        with pg_connect(replace(self.pg_admin, database="postgres"), autocommit=True) as pg:
            for db in (self.pg_ours, self.pg_jdbc):
                pg.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')  # type: ignore[arg-type]

    # -- 1. fill the topic ----------------------------------------------------------------------

    def fill(self) -> dict[str, Any]:
        started = time.monotonic()
        conn = mysql_connect(self.endpoints(self.pg_ours).mysql)
        cur = conn.cursor()
        for lo in range(0, self.rows, CHUNK):
            ids = range(lo, min(lo + CHUNK, self.rows))
            cur.executemany(
                "INSERT INTO items VALUES (%s, %s, 0, %s, NOW(6), %s)",
                [(i, f"item {i}", i % 1000 / 7, "note \t\\ é 🐘" if i % 3 else None) for i in ids],
            )
            conn.commit()
        for lo in range(0, self.rows, CHUNK):
            cur.execute(
                "UPDATE items SET qty = qty + 1, updated_at = NOW(6) WHERE id >= %s AND id < %s",
                (lo, lo + CHUNK),
            )
            conn.commit()
        conn.close()
        written = time.monotonic() - started
        while self.topic_events() < 2 * self.rows:
            time.sleep(0.5)
        return {
            "events": 2 * self.rows,
            "mysql_write_s": round(written, 1),
            "captured_s": round(time.monotonic() - started, 1),
        }

    def topic_events(self) -> int:
        return message_count(self.base.kafka_bootstrap, self.topic)

    # -- 2. apply rate --------------------------------------------------------------------------

    def target_done(self, pg_db: str) -> bool:
        with pg_connect(replace(self.base.postgres, database=pg_db), autocommit=True) as pg:
            row = pg.execute("SELECT count(*), coalesce(sum(qty), 0) FROM items").fetchone()
        return row is not None and (row[0], row[1]) == (self.rows, self.rows)

    def run_ours(self) -> dict[str, Any]:
        with pg_connect(replace(self.base.postgres, database=self.pg_ours), autocommit=True) as pg:
            pg.execute("TRUNCATE items")
        config = StreamConfig(
            mysql_topic_prefix=self.settings.mysql_topic_prefix,
            group_id=f"mpsb-ours-{uuid.uuid4().hex[:6]}",
            dead_letter_topic=f"mpsb{self.tag}.dead-letters",
            incoming_sides=("mysql",),
        )
        started, cpu_started = time.monotonic(), _cpu_s()
        consumer = StreamConsumer(
            self.endpoints(self.pg_ours), MappingSet((mapping(self.db),)), config
        )
        try:
            summary = consumer.run(max_events=2 * self.rows, max_seconds=1800)
        finally:
            consumer.close()
        wall, cpu = time.monotonic() - started, _cpu_s() - cpu_started
        if not self.target_done(self.pg_ours):
            raise RuntimeError("our consumer finished but the target is not in the final state")
        apply_s = summary.seconds - (summary.first_message_s or 0)
        return {
            "wall_s": round(wall, 2),
            "apply_s": round(apply_s, 2),
            "events_per_s": round(summary.events / apply_s),
            "events_per_s_wall": round(summary.events / wall),
            "write_s": round(summary.write_seconds, 2),  # of apply_s: in the database
            # this process's CPU (all its threads) per event: steadier than rates on a busy box
            "cpu_us_per_event": round(cpu / summary.events * 1e6, 1),
            "dead_letters": summary.dead_letters,
        }

    def run_jdbc(self) -> dict[str, Any]:
        worker = JdbcWorker(self.base.kafka_bootstrap)
        try:
            return self._run_jdbc(ConnectClient(worker.url))
        finally:
            worker.close()

    def _run_jdbc(self, client: ConnectClient) -> dict[str, Any]:
        name = f"mpsb-jdbc-{uuid.uuid4().hex[:6]}"
        with pg_connect(replace(self.base.postgres, database=self.pg_jdbc), autocommit=True) as pg:
            pg.execute("TRUNCATE items")
        pg = self.base.postgres
        config = {
            "connector.class": "io.debezium.connector.jdbc.JdbcSinkConnector",
            "tasks.max": "1",
            "topics": self.topic,
            "connection.url": f"jdbc:postgresql://{pg.host}:{pg.port}/{self.pg_jdbc}",
            "connection.username": f"${{file:{SECRETS}:postgres.user}}",
            "connection.password": f"${{file:{SECRETS}:postgres.password}}",
            "insert.mode": "upsert",
            "delete.enabled": "true",
            "primary.key.mode": "record_key",
            "schema.evolution": "none",
            "collection.name.format": "items",
            "table.name.format": "items",
            "batch.size": "5000",
            "key.converter": "org.apache.kafka.connect.json.JsonConverter",
            "key.converter.schemas.enable": "true",
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter.schemas.enable": "true",
            "consumer.override.auto.offset.reset": "earliest",
            "consumer.override.max.poll.records": "5000",
        }
        started = time.monotonic()
        client.put_config(name, config)
        try:
            wait_for_state(client, name, "RUNNING", timeout_s=120)
            while not self.target_done(self.pg_jdbc):
                status = client.status(name)
                if status.is_failed:
                    raise RuntimeError(f"JDBC sink failed: {status.failure_trace()[:2000]}")
                if time.monotonic() - started > 3600:
                    raise RuntimeError("JDBC sink did not finish within an hour")
                time.sleep(0.5)
            wall = time.monotonic() - started
        finally:
            client.delete(name, missing_ok=True)
        return {"wall_s": round(wall, 2), "events_per_s_wall": round(2 * self.rows / wall)}

    # -- 3. lag at a steady rate ----------------------------------------------------------------

    def run_lag(self, rate: int, seconds: float) -> dict[str, Any]:
        with pg_connect(replace(self.base.postgres, database=self.pg_ours), autocommit=True) as pg:
            for sql in LAG_DDL:
                pg.execute(sql)  # type: ignore[arg-type]
        config = StreamConfig(
            mysql_topic_prefix=self.settings.mysql_topic_prefix,
            group_id=f"mpsb-lag-{uuid.uuid4().hex[:6]}",
            dead_letter_topic=f"mpsb{self.tag}.dead-letters",
            incoming_sides=("mysql",),
            max_batch_ms=100,
        )
        consumer = StreamConsumer(
            self.endpoints(self.pg_ours), MappingSet((mapping(self.db),)), config
        )
        consumer.run(max_seconds=600, max_events=2 * self.rows)  # catch up on the backlog first
        stop = threading.Event()
        sent = {"changes": 0}

        def writer() -> None:
            conn = mysql_connect(self.endpoints(self.pg_ours).mysql, autocommit=True)
            per_tx = 20
            interval = per_tx / rate
            next_at = time.monotonic()
            i = 0
            while not stop.is_set():
                ids = [(i * per_tx + k) % self.rows for k in range(per_tx)]
                conn.cursor().execute(
                    "UPDATE items SET qty = qty + 1, updated_at = NOW(6) WHERE id IN ("
                    + ", ".join(str(x) for x in ids)
                    + ")"
                )
                sent["changes"] += per_tx
                i += 1
                next_at += interval
                delay = next_at - time.monotonic()
                if delay > 0:
                    time.sleep(delay)  # rate limiter of the load generator
            conn.close()

        conn = mysql_connect(self.endpoints(self.pg_ours).mysql)
        cur = conn.cursor()
        cur.execute("SELECT NOW(6)")
        load_started = cur.fetchone()[0]
        conn.close()
        thread = threading.Thread(target=writer)
        thread.start()
        try:
            consumer.run(max_seconds=seconds)
        finally:
            stop.set()
            thread.join()
        consumer.run(max_seconds=5)
        consumer.close()
        with pg_connect(replace(self.base.postgres, database=self.pg_ours), autocommit=True) as pg:
            lags = [
                float(r[0])
                for r in pg.execute(
                    "SELECT extract(epoch FROM applied - written) * 1000 FROM lag_log"
                    " WHERE written > %s::timestamp + interval '2 seconds'",  # warmed up
                    (load_started,),
                )
            ]
        if not lags:
            raise RuntimeError(
                "no applied row version was logged in public.lag_log: the lag trigger did not "
                "fire (is it ENABLE ALWAYS?), so there is no lag figure"
            )
        return {
            "rate_target": rate,
            "rate_achieved": round(sent["changes"] / seconds),
            "row_versions_measured": len(lags),
            "lag_p50_ms": round(percentile(lags, 50), 1),
            "lag_p99_ms": round(percentile(lags, 99), 1),
            "lag_max_ms": round(max(lags, default=0), 1),
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.stream")
    parser.add_argument("--events", type=int, default=500_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--jdbc-runs", type=int, default=1)
    parser.add_argument("--rate", type=int, default=2_000)
    parser.add_argument("--lag-seconds", type=float, default=30)
    args = parser.parse_args(argv)
    bench = Bench(args.events)
    report: dict[str, Any] = {}
    try:
        bench.setup()
        report["fill"] = bench.fill()
        print(json.dumps(report), flush=True)
        ours = [bench.run_ours() for _ in range(args.runs)]
        print(json.dumps({"ours": ours}), flush=True)
        jdbc = [bench.run_jdbc() for _ in range(args.jdbc_runs)]
        print(json.dumps({"jdbc": jdbc}), flush=True)
        ours_rate = statistics.median(r["events_per_s_wall"] for r in ours)
        jdbc_rate = statistics.median(r["events_per_s_wall"] for r in jdbc) if jdbc else 0
        report.update(
            ours_runs=ours,
            jdbc_runs=jdbc,
            ours_median_events_per_s=statistics.median(r["events_per_s"] for r in ours),
            ours_median_events_per_s_wall=ours_rate,
            ours_median_cpu_us_per_event=statistics.median(r["cpu_us_per_event"] for r in ours),
            jdbc_median_events_per_s_wall=jdbc_rate,
            ratio_wall=round(ours_rate / jdbc_rate, 2) if jdbc_rate else None,
        )
        if args.lag_seconds > 0:
            report["lag"] = bench.run_lag(args.rate, args.lag_seconds)
    finally:
        bench.teardown()
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
