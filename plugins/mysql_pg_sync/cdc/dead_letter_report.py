"""Dead letters and retry outcomes as an operator reads them: the `dead-letters` command and the
`dead_letters` DAG print the same text (pure formatting), and read a table's name the same way."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict
from itertools import groupby

from mysql_pg_sync.cdc.consumer import StreamConfig
from mysql_pg_sync.cdc.dead_letter_plan import (
    DeadLetterRow,
    Refusal,
    direction_text,
    key_text,
    letter_side,
    short_error,
)
from mysql_pg_sync.cdc.dead_letter_retry import RetryOutcome
from mysql_pg_sync.cdc.topics import change_topics
from mysql_pg_sync.errors import MappingError
from mysql_pg_sync.mapping.models import MappingSet

RETRY_HINT = (
    'retry: make cli ARGS="dead-letters retry --table <table>" (or --id N), or trigger the '
    "dead_letters DAG with action retry; a fix made by hand: "
    'make cli ARGS="dead-letters resolve --id N --note ...", or the DAG with action resolve'
)


def _directions(
    letters: Sequence[DeadLetterRow], mappings: MappingSet, config: StreamConfig
) -> dict[int, str]:
    topics = change_topics(mappings, config.mysql_topic_prefix, config.pg_topic_prefix)
    return {letter.id: direction_text(letter_side(letter, topics)) for letter in letters}


def letters_table(mappings: MappingSet, name: str, has_letters: Callable[[str], bool]) -> str:
    """The table ``name`` stands for as dead letters record it (its mapping's MySQL db.table):
    a name or glob of one mapping, as reconcile takes them, or a table since removed from the
    mappings that still has letters. Else MappingError naming the known tables: a typo must not
    read as "no open dead letters"."""
    try:
        found = mappings.match([name])
    except MappingError:
        if has_letters(name):
            return name
        raise
    if len(found) > 1:
        raise MappingError(
            f"{name!r} matches {len(found)} tables ({', '.join(m.name for m in found)}); "
            "dead letters take one table: name it as db.table"
        )
    return found[0].name


def listing(
    letters: Sequence[DeadLetterRow],
    mappings: MappingSet,
    config: StreamConfig,
    table: str | None = None,
) -> str:
    """The letters by table, each with id, time, key, direction and error; ``table``: the one
    table they were read for, named when it has none (the filter then visibly worked)."""
    if not letters:
        return "no open dead letters" + (f" of {table}" if table else "")
    directions = _directions(letters, mappings, config)
    open_count = sum(letter.resolved_at is None for letter in letters)
    lines = [f"{open_count} open dead letter(s)"]
    for table, group in groupby(letters, key=lambda letter: letter.source_table):
        lines.append(f"{table or '(no table: undecodable messages)'}")
        for letter in group:
            when = f"{letter.recorded_at:%Y-%m-%d %H:%M:%S %Z}".strip()
            state = f"  [{letter.resolution}]" if letter.resolved_at is not None else ""
            lines.append(
                f"  #{letter.id}  {when}  {key_text(letter.key)}  {directions[letter.id]}  "
                f"{letter.error_class}: {short_error(letter.error)}{state}"
            )
    if open_count:
        lines.append(f"Fix the cause each error names, then {RETRY_HINT}")
    return "\n".join(lines)


def as_json(letters: Sequence[DeadLetterRow], mappings: MappingSet, config: StreamConfig) -> str:
    directions = _directions(letters, mappings, config)
    return json.dumps(
        [{**asdict(letter), "direction": directions[letter.id]} for letter in letters],
        indent=2,
        default=str,
    )


def retry_report(
    outcomes: Sequence[RetryOutcome], refusals: Sequence[Refusal], table: str | None
) -> tuple[list[str], int]:
    """One line per outcome and refusal, and how many letters stay open."""
    lines = [f"{'ok' if o.ok else 'FAILED'}: {o.message}" for o in outcomes]
    for refusal in refusals:
        ids = ", ".join(map(str, refusal.letter_ids))
        lines.append(
            f"cannot retry {ids} ({refusal.table} {key_text(refusal.key)}): {refusal.reason}"
        )
    if not outcomes and not refusals:
        lines.append(
            "no open dead letters" + (f" of {table}" if table else "") + ": nothing to retry"
        )
    failed = sum(not o.ok for o in outcomes) + len(refusals)
    if failed:
        lines.append(f"{failed} left open")
    return lines, failed
