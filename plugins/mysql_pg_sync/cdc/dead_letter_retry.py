"""Recover dead letters: list the open ones, retry them, or mark them resolved by hand.

A retry reads the current row of the letter's key on the side its change came from (reconcile's
:class:`~mysql_pg_sync.reconcile.sqlside.TableSide`) and writes it to the other side as a
reconcile repair (:class:`~mysql_pg_sync.reconcile.applier.StreamApplierRepairs`): through the
stream applier, under the mapping's conflict rule, in a tagged session, so it never echoes
back. Which letters and why is :mod:`mysql_pg_sync.cdc.dead_letter_plan`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import psycopg
from confluent_kafka import Consumer, TopicPartition
from psycopg.rows import dict_row

from mysql_pg_sync import dialects
from mysql_pg_sync.cdc.apply import Applier, BatchResult
from mysql_pg_sync.cdc.batch import CollapsedChange
from mysql_pg_sync.cdc.consumer import MAX_MESSAGE_BYTES, StreamConfig
from mysql_pg_sync.cdc.dead_letter_plan import (
    SIDE_NAMES,
    DeadLetterRow,
    Refusal,
    Retry,
    Selection,
    candidate,
    checked_kept_hint,
    copied_resolution,
    fix_hint,
    hand_resolution,
    needs_before_image,
    not_found_hint,
    plan_retries,
    unchecked_hint,
)
from mysql_pg_sync.cdc.decode import DecodeError, decode_change
from mysql_pg_sync.cdc.events import ChangeEvent, Side
from mysql_pg_sync.cdc.images import to_json
from mysql_pg_sync.cdc.loop_guard import LoopTags
from mysql_pg_sync.cdc.targets import MySQLTarget, PostgresTarget
from mysql_pg_sync.cdc.topics import change_topics
from mysql_pg_sync.connections import connection_failure, pg_connect, side_connector
from mysql_pg_sync.errors import SyncError
from mysql_pg_sync.mapping.models import MappingSet, TableMapping
from mysql_pg_sync.reconcile.applier import StreamApplierRepairs, repair_event
from mysql_pg_sync.reconcile.errors import ReconcileError
from mysql_pg_sync.reconcile.model import ReconcileTable, table_from_mapping
from mysql_pg_sync.reconcile.repair import Image, Repair, RepairOutcome
from mysql_pg_sync.reconcile.sqlside import ConnectionPool, TableSide
from mysql_pg_sync.settings import Endpoints
from mysql_pg_sync.state.schema import ensure_schema

log = logging.getLogger(__name__)

WRITES = 3  # a retry writes a key again while its source row changed meanwhile, this often
READ_CHANGE_S = 15.0  # reading a failed change back from its topic gives up after this

_COLUMNS = (
    "id, recorded_at, source_table, key, error_class, error, kafka_topic, kafka_partition,"
    " kafka_offset, resolved_at, resolution, dead_letter_topic"
)


class DeadLetterError(SyncError):
    """A dead-letter command cannot do what it was asked (unknown ids, nothing to resolve)."""


@dataclass(frozen=True)
class RetryOutcome:
    """What became of one retry: written (or, in a dry run, what would be), or the error."""

    retry: Retry
    ok: bool
    message: str
    image: Image | None = None  # the source's current row (MySQL column names); None: none


def read_letters(
    conn: psycopg.Connection[Any], *, include_resolved: bool = False, table: str | None = None
) -> list[DeadLetterRow]:
    """Dead letters by table, oldest first; open ones only unless ``include_resolved``."""
    where = ["TRUE" if include_resolved else "resolved_at IS NULL"]
    params: list[Any] = []
    if table is not None:
        where.append("source_table = %s")
        params.append(table)
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            f"SELECT {_COLUMNS} FROM mps_sync.dead_letters WHERE {' AND '.join(where)}"
            " ORDER BY source_table NULLS FIRST, recorded_at, id",
            params,
        )
        return [DeadLetterRow(**row) for row in cur.fetchall()]


def mark_resolved(conn: psycopg.Connection[Any], ids: Sequence[int], resolution: str) -> list[int]:
    """Mark the open ones of ``ids`` resolved; returns the ids it marked."""
    rows = conn.execute(
        "UPDATE mps_sync.dead_letters SET resolved_at = now(), resolution = %s"
        " WHERE id = ANY(%s) AND resolved_at IS NULL RETURNING id",
        (resolution, list(ids)),
    ).fetchall()
    return sorted(r[0] for r in rows)


def list_letters(
    endpoints: Endpoints, *, include_resolved: bool = False, table: str | None = None
) -> list[DeadLetterRow]:
    with pg_connect(endpoints.postgres) as conn:
        ensure_schema(conn)
        return read_letters(conn, include_resolved=include_resolved, table=table)


def resolve(
    endpoints: Endpoints, ids: Sequence[int], note: str, table: str | None = None
) -> list[int]:
    """Mark dead letters resolved by hand: the ``ids``, or every open one of ``table`` (letters
    recorded before dead letters could be resolved, say); refuses unknown or already resolved
    ids, marking none of them then."""
    if not note.strip():
        raise DeadLetterError("--note must say how the dead letters were dealt with")
    if not ids and table is None:
        raise DeadLetterError(
            "resolve needs the ids of the dead letters, or a table to resolve all its open ones "
            '(see `make cli ARGS="dead-letters list"`)'
        )
    with pg_connect(endpoints.postgres) as conn:
        ensure_schema(conn)
        if not ids:
            with conn.transaction():
                marked = conn.execute(
                    "UPDATE mps_sync.dead_letters SET resolved_at = now(), resolution = %s"
                    " WHERE source_table = %s AND resolved_at IS NULL RETURNING id",
                    (hand_resolution(note), table),
                ).fetchall()
            if not marked:
                raise DeadLetterError(f"{table} has no open dead letters; nothing was marked")
            return sorted(r[0] for r in marked)
        with conn.transaction():
            found = {
                r[0]: r[1]
                for r in conn.execute(
                    "SELECT id, resolution FROM mps_sync.dead_letters WHERE id = ANY(%s)"
                    " FOR UPDATE",
                    (list(ids),),
                )
            }
            unknown = sorted(set(ids) - set(found))
            done = sorted(i for i, resolution in found.items() if resolution is not None)
            if unknown or done:
                problems = [f"no dead letter with id {', '.join(map(str, unknown))}"] * bool(
                    unknown
                )
                problems += [f"id {i} is already resolved ({found[i]})" for i in done]
                raise DeadLetterError(
                    "; ".join(problems) + '; nothing was marked. See `make cli ARGS="dead-letters '
                    'list --all"` for the ids'
                )
            return mark_resolved(conn, ids, hand_resolution(note))


def _reconcile_tables(mappings: MappingSet) -> dict[str, ReconcileTable | str]:
    tables: dict[str, ReconcileTable | str] = {}
    for m in mappings.enabled():
        try:
            tables[m.name] = table_from_mapping(m)
        except ReconcileError as exc:
            tables[m.name] = str(exc)
    return tables


def plan(
    endpoints: Endpoints, mappings: MappingSet, config: StreamConfig, selection: Selection
) -> tuple[list[Retry], list[Refusal]]:
    """The retries and refusals for the selected open dead letters."""
    with pg_connect(endpoints.postgres) as conn:
        ensure_schema(conn)
        letters = read_letters(conn)
    topics = change_topics(mappings, config.mysql_topic_prefix, config.pg_topic_prefix)
    tables = _reconcile_tables(mappings)
    candidates = [candidate(letter, topics, tables) for letter in letters]
    if selection.ids:
        known = {c.letter.id for c in candidates}
        closed = sorted(selection.ids - known)
        if closed:
            raise DeadLetterError(
                f"no open dead letter with id {', '.join(map(str, closed))} (unknown or already "
                'resolved; `make cli ARGS="dead-letters list --all"` shows them all)'
            )
        elsewhere = sorted(
            c.letter.id
            for c in candidates
            if c.letter.id in selection.ids
            and selection.table is not None
            and c.letter.source_table != selection.table
        )
        if elsewhere:  # else nothing is retried, and the report says the table has no letters
            raise DeadLetterError(
                f"dead letter(s) {', '.join(map(str, elsewhere))} are not of {selection.table}; "
                "nothing was retried. Name their table, or give the ids alone"
            )
    return plan_retries(candidates, selection.matches)


def _current_rows(
    endpoints: Endpoints, table: ReconcileTable, retries: Sequence[Retry]
) -> dict[int, Image | None]:
    """Each retry's current source row, by position in ``retries`` (all of one source side);
    None where the source has no row with that key. One read per key: the row comes back by
    the key's own equality in SQL, never matched up in Python across driver value types."""
    side = retries[0].source_side
    dialect = dialects.for_side(side)
    pool = ConnectionPool(side_connector(side, endpoints), 1, dialect.compare_session_sql())
    try:
        reader = TableSide(side, dialect, table, pool)
        reader.check_schema()
        found: dict[int, Image | None] = {}
        for i, r in enumerate(retries):
            rows = list(reader.raw_rows([r.raw_key]).values())
            found[i] = rows[0] if len(rows) == 1 else None
        return found
    finally:
        pool.close()


def _repair(table: ReconcileTable, retry: Retry, image: Image) -> Repair:
    key = tuple(v.hex() if isinstance(v, bytes | bytearray) else str(v) for v in retry.raw_key)
    raw = tuple(image[k] for k in table.key)
    decided = f"dead letter {', '.join(map(str, retry.letter_ids))}"
    return Repair(key, raw, "upsert", retry.target_side, decided, None, image)


@dataclass(frozen=True)
class Expected:
    """What the target must still hold for a retry to write (``needs_before_image``): the
    failed change's op and before-image (source column names), as the stream would check."""

    op: str  # "c": the target must have no row (or the rule decides); "u": ``before``
    before: Mapping[str, Any] | None


@dataclass(frozen=True)
class Written:
    applied: bool
    error: str | None = None
    kept_by_rule: bool = False


def _write(
    endpoints: Endpoints,
    mapping: TableMapping,
    tags: LoopTags,
    table: ReconcileTable,
    write_to: Side,
    writes: Sequence[tuple[Repair, Expected | None]],
) -> list[Written]:
    """Write each source row through the stream applier in one transaction, as a reconcile
    repair would, but with the failed change's before-image where ``expected`` gives one: the
    mapping's conflict rule then decides against the target's current row as the stream does
    (a target row changed since wins under mysql_wins / postgres_wins)."""
    changes = []
    for repair, expected in writes:
        event = repair_event(table, repair)
        if expected is not None:
            event = replace(event, op=expected.op, before=expected.before)  # type: ignore[arg-type]
        changes.append(CollapsedChange(event, event.before, event.after, 1))
    result = BatchResult()
    session: PostgresTarget | MySQLTarget = (
        PostgresTarget(endpoints.postgres, tags)
        if write_to == "postgres"
        else MySQLTarget(endpoints.mysql, tags)
    )
    try:
        Applier(session, MappingSet((mapping,))).apply(changes, result)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
    failed = {id(d.event): f"{type(d.error).__name__}: {d.error}" for d in result.dead_letters}
    lost = {
        id(c.event): f"the {c.rule} rule kept the {c.winner} row"
        for c in result.conflicts
        if c.winner == write_to
    }
    written = []
    for change in changes:
        error = failed.get(id(change.last)) or lost.get(id(change.last))
        kept = id(change.last) in lost and id(change.last) not in failed
        written.append(Written(error is None, error, kept))
    return written


def _read_changes(
    endpoints: Endpoints, config: StreamConfig, places: Sequence[tuple[str, int, int]]
) -> dict[tuple[str, int, int], ChangeEvent | str]:
    """Each failed change back from its change topic (decoded as the stream decodes it), or
    why it cannot be read (gone with the topic's retention, not decodable)."""
    found: dict[tuple[str, int, int], ChangeEvent | str] = {}
    if not places:
        return found
    decode = decode_change
    if config.value_format == "avro":
        from mysql_pg_sync.cdc.decode_avro import AvroDecoder, registry_fetch

        if not endpoints.schema_registry_url:
            return dict.fromkeys(places, "MPS_SCHEMA_REGISTRY_URL is not set")
        decode = AvroDecoder(registry_fetch(endpoints.schema_registry_url)).decode_change
    consumer = Consumer(
        {
            "bootstrap.servers": endpoints.kafka_bootstrap,
            "group.id": f"{config.group_id}.dead-letter-retry",  # assigned, never committed
            "enable.auto.commit": False,
            "auto.offset.reset": "error",
            "enable.partition.eof": True,
            "fetch.message.max.bytes": MAX_MESSAGE_BYTES,
        }
    )
    try:
        for place in places:
            found[place] = _read_change(consumer, place, decode)
    finally:
        consumer.close()
    return found


def _read_change(consumer: Consumer, place: tuple[str, int, int], decode: Any) -> ChangeEvent | str:
    topic, partition, offset = place
    consumer.assign([TopicPartition(topic, partition, offset)])
    deadline = time.monotonic() + READ_CHANGE_S
    try:
        while time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None:
                continue
            if msg.error() is not None:
                return f"Kafka: {msg.error()} (gone with the topic's retention?)"
            if msg.offset() != offset:
                return f"the topic holds no message at that offset (next: {msg.offset()})"
            try:
                event = decode(msg.key(), msg.value(), None)
            except DecodeError as exc:
                return f"it cannot be decoded ({exc})"
            return event if event is not None else "it is a tombstone"
        return f"no message within {READ_CHANGE_S:.0f} s"
    finally:
        consumer.unassign()


def _expected(event: ChangeEvent) -> Expected:
    if event.op in ("c", "r"):
        return Expected("c", None)
    return Expected("u", event.before)


def _as_source_names(table: ReconcileTable, side: Side, image: Image) -> dict[str, Any]:
    """A row read by :class:`TableSide` (MySQL column names) with ``side``'s column names."""
    names = dict(table.image_columns) if side == "postgres" else {}
    return {names.get(name, name): value for name, value in image.items()}


def retry_table(
    endpoints: Endpoints,
    mapping: TableMapping,
    config: StreamConfig,
    retries: Sequence[Retry],
    dry_run: bool,
) -> list[RetryOutcome]:
    """Retry one table's dead letters of one direction; resolves those that succeed."""
    table = table_from_mapping(mapping)
    try:
        images = _current_rows(endpoints, table, retries)
    except Exception as exc:
        _raise_if_unreachable(exc, endpoints)
        return [_read_failed(r, exc) for r in retries]
    missing = [
        RetryOutcome(r, False, not_found_hint(r))
        for i, r in enumerate(retries)
        if images[i] is None
    ]
    present = [(r, image) for i, r in enumerate(retries) if (image := images[i]) is not None]
    if dry_run or not present:
        return [RetryOutcome(r, True, _would(r, image), image) for r, image in present] + missing
    results: list[RetryOutcome] = []
    rule = mapping.conflict.rule
    checked = needs_before_image(rule, retries[0].source_side)
    expected: dict[tuple[int, ...], Expected | None] = {r.letter_ids: None for r, _ in present}
    if checked:
        places = [r.first_change for r, _ in present if r.first_change is not None]
        changes = _read_changes(endpoints, config, places)
        readable = []
        for retry, image in present:
            change = changes.get(retry.first_change) if retry.first_change else "no position"
            if isinstance(change, ChangeEvent):
                expected[retry.letter_ids] = _expected(change)
                readable.append((retry, image))
            else:
                why = change or "no position"
                results.append(RetryOutcome(retry, False, unchecked_hint(retry, rule, why), image))
        present = readable
    for _ in range(WRITES):
        if not present:
            break
        repairs = [(_repair(table, r, image), expected[r.letter_ids]) for r, image in present]
        target = retries[0].target_side
        try:
            outcomes: Sequence[Written | RepairOutcome] = (
                _write(endpoints, mapping, config.tags, table, target, repairs)
                if checked
                else StreamApplierRepairs(
                    endpoints, MappingSet((mapping,)), config.tags
                ).apply_repairs(table, target, [repair for repair, _ in repairs])
            )
        except Exception as exc:  # nothing of the group was committed
            _raise_if_unreachable(exc, endpoints)
            log.error("%s: retry failed: %s", mapping.name, exc)
            error = f"{type(exc).__name__}: {exc}"
            failed = [RetryOutcome(r, False, fix_hint(r, error), image) for r, image in present]
            return results + failed + missing
        written = []
        for (retry, image), outcome in zip(present, outcomes, strict=True):
            if outcome.applied:
                written.append((retry, image))
                continue
            error = outcome.error or "not applied"
            if checked and outcome.kept_by_rule:
                hint = checked_kept_hint(retry, error)
            else:
                hint = fix_hint(retry, error, outcome.kept_by_rule)
            results.append(RetryOutcome(retry, False, hint, image))
        # The stream may have applied a newer change of a key between the read and the write,
        # which then put the older row over it (the write has no before-image: under
        # mysql_wins / postgres_wins it always applies). Read the source again: a row that
        # changed meanwhile is written again; one the stream brings later is newer anyway.
        try:
            now = _current_rows(endpoints, table, [r for r, _ in written]) if written else {}
        except Exception as exc:
            # written and not checked: say so rather than retry the task, which writes again
            results += [_unchecked(r, exc, image) for r, image in written]
            return results + missing
        present = []
        with pg_connect(endpoints.postgres) as state:
            for i, (retry, image) in enumerate(written):
                current = now[i]
                if current is None:
                    results.append(RetryOutcome(retry, False, _deleted_meanwhile(retry), image))
                elif current != image:
                    present.append((retry, current))
                    if checked:  # the target now holds what this retry wrote
                        source = _as_source_names(table, retry.source_side, image)
                        expected[retry.letter_ids] = Expected("u", source)
                else:
                    resolution = copied_resolution(retry.source_side)
                    with state.transaction():
                        mark_resolved(state, retry.letter_ids, resolution)
                    message = f"{retry.describe()}: {resolution}"
                    results.append(RetryOutcome(retry, True, message, image))
    results += [RetryOutcome(r, False, _kept_changing(r), image) for r, image in present]
    return results + missing


def _raise_if_unreachable(exc: Exception, endpoints: Endpoints) -> None:
    """A database that cannot be reached is no outcome of the letters: raised, so the task (or
    the operator) retries them later, instead of a failed retry that fails the run for good."""
    unreachable = connection_failure(exc, endpoints)
    if unreachable is not None:
        raise unreachable from exc


def _unchecked(retry: Retry, exc: Exception, image: Image) -> RetryOutcome:
    source = SIDE_NAMES[retry.source_side]
    return RetryOutcome(
        retry,
        False,
        f"{retry.describe()}: written, but {source}'s row could not be read again to check that "
        f"it did not change meanwhile ({type(exc).__name__}: {exc}); the letter stays open: "
        "retry again",
        image,
    )


def _deleted_meanwhile(retry: Retry) -> str:
    source, target = SIDE_NAMES[retry.source_side], SIDE_NAMES[retry.target_side]
    return (
        f"{retry.describe()}: {source} deleted the row while the retry wrote it to {target}, "
        f"so {target} may hold a row {source} no longer has; the letter stays open. Check "
        f"{target}'s row: delete it if {source} deleted it, then resolve the letter by hand"
    )


def _kept_changing(retry: Retry) -> str:
    source = SIDE_NAMES[retry.source_side]
    return (
        f"{retry.describe()}: {source}'s row changed again each time the retry wrote it "
        f"({WRITES} writes); the letter stays open: retry again once the row is quieter"
    )


def _read_failed(retry: Retry, exc: Exception) -> RetryOutcome:
    source = SIDE_NAMES[retry.source_side]
    return RetryOutcome(
        retry,
        False,
        f"{retry.describe()}: could not read the current row from {source}: "
        f"{type(exc).__name__}: {exc}; nothing was written. Fix that, then retry again",
    )


def _would(retry: Retry, image: Image) -> str:
    source, target = SIDE_NAMES[retry.source_side], SIDE_NAMES[retry.target_side]
    row = json.dumps(to_json(image), ensure_ascii=False)
    return f"{retry.describe()}: would copy {source}'s current row to {target}: {row}"


def retry(
    endpoints: Endpoints,
    mappings: MappingSet,
    config: StreamConfig,
    selection: Selection,
    dry_run: bool = False,
) -> tuple[list[RetryOutcome], list[Refusal]]:
    """Retry the selected open dead letters, a table and direction at a time."""
    retries, refusals = plan(endpoints, mappings, config, selection)
    groups: dict[tuple[str, str], list[Retry]] = {}
    for r in retries:
        groups.setdefault((r.table, r.source_side), []).append(r)
    outcomes: list[RetryOutcome] = []
    for (name, _), group in groups.items():
        outcomes += retry_table(endpoints, mappings.by_source(name), config, group, dry_run)
    return outcomes, refusals
