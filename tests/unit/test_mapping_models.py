"""Mapping models and loader: valid files load, bad ones fail naming file, table and field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from mysql_pg_sync.errors import MappingError
from mysql_pg_sync.mapping.models import TableMapping, load_mappings

GOOD = """
source: legacy.orders
target: public.orders
key: [id]
conflict: {rule: last_writer_wins, column: updated_at}
backfill: {chunk_rows: 1000, key_hint: integer}
reconcile: {authoritative: postgres, ignore_columns: [note], float_digits: 5}
columns:
  - {name: id, column_type: bigint(20) unsigned, nullable: false, auto_increment: true}
  - {name: status, column_type: "enum('new','it''s')", pg_type: orders_status}
  - {name: paid, column_type: tinyint(1)}
  - {name: updated_at, column_type: timestamp(6)}
  - {name: note, column_type: varchar(20), pg_name: Note}
  - {name: secret, column_type: blob, exclude: true}
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_good_file_loads_with_defaults_from_the_type_map(tmp_path: Path) -> None:
    write(tmp_path, "orders.yaml", GOOD)
    mappings = load_mappings(tmp_path)
    m = mappings.by_source("legacy.orders")
    assert mappings.by_target("public.orders") is m
    assert (m.source.db, m.source.table, m.target.schema, m.target.table) == (
        "legacy",
        "orders",
        "public",
        "orders",
    )
    assert m.key == ("id",)
    assert m.column("id").pg_type == "numeric(20,0)"
    assert m.column("id").kind == "uint64"
    assert m.column("status").values == ("new", "it's")
    assert m.column("paid").pg_type == "boolean"
    assert m.column_by_pg_name("Note").name == "note"
    assert [c.name for c in m.synced_columns()] == ["id", "status", "paid", "updated_at", "note"]
    assert m.direction == "both"
    assert m.conflict.column == "updated_at"
    assert m.reconcile.authoritative == "postgres"
    assert [t.name for t in mappings.enabled()] == ["legacy.orders"]


def test_list_and_tables_forms_and_lookup_by_bare_name(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", f"tables:\n  - {GOOD.strip().replace(chr(10), chr(10) + '    ')}\n")
    write(
        tmp_path,
        "b.yml",
        "- source: {db: legacy, table: order.items}\n  target: {schema: app, table: order items}\n"
        "  key: [id]\n  columns: [{name: id, column_type: int(11)}]\n",
    )
    mappings = load_mappings(tmp_path)
    assert len(mappings) == 2
    dotted = mappings.select(["order items"])[0]
    assert dotted.source.table == "order.items"
    assert dotted.target.table == "order items"


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        ("direction: both", "field direction: Input should be"),
        ("key: [id]", "key: unknown column 'nope'"),
        ("{rule: last_writer_wins, column: updated_at}", "needs 'column'"),
        ("nullable: false, auto", "field columns[0 'id'].nulable"),
        ("column_type: tinyint(1)", "not in the type map"),
        ("chunk_rows: 1000", "field backfill.chunk_rows: Input should be greater than 0"),
        ("pg_name: Note", "pg_type 'text; drop table x'"),
    ],
)
def test_bad_field_names_file_table_and_field(tmp_path: Path, edit: str, expected: str) -> None:
    replacement = {
        "direction: both": "direction: sideways",
        "key: [id]": "key: [nope]",
        "{rule: last_writer_wins, column: updated_at}": "{rule: last_writer_wins}",
        "nullable: false, auto": "nulable: false, auto",
        "column_type: tinyint(1)": "column_type: tinyint_weird(1)",
        "chunk_rows: 1000": "chunk_rows: 0",
        "pg_name: Note": "pg_name: Note, pg_type: 'text; drop table x'",
    }[edit]
    text = GOOD.replace(edit, replacement) if edit in GOOD else GOOD + replacement + "\n"
    path = write(tmp_path, "orders.yaml", text)
    with pytest.raises(MappingError) as err:
        load_mappings(tmp_path)
    message = str(err.value)
    assert str(path) in message
    assert "table legacy.orders" in message
    assert expected in message


def test_split_column_is_refused_naming_file_table_and_what_to_do(tmp_path: Path) -> None:
    """It was accepted and then ignored: chunks are always ranges of the key."""
    path = write(tmp_path, "orders.yaml", GOOD.replace("key_hint: integer", "split_column: id"))
    with pytest.raises(MappingError) as err:
        load_mappings(tmp_path)
    message = str(err.value)
    assert f"{path}: table legacy.orders: field backfill: split_column is not supported" in message
    assert "remove it (size chunks with chunk_rows or chunk_mb" in message


@pytest.mark.parametrize(
    ("key", "columns", "hint", "error"),
    [
        (["id"], [("id", "bigint(20) unsigned")], "integer", None),
        (["id"], [("id", "year(4)")], "integer", None),
        (["id"], [("id", "int(11)")], "keyset", None),
        (["code"], [("code", "varchar(10)")], "keyset", None),
        (["code"], [("code", "varchar(10)")], "integer", "the key is code (text)"),
        (["flag"], [("flag", "tinyint(1)")], "integer", "the key is flag (bool)"),
        (["a", "b"], [("a", "int(11)"), ("b", "int(11)")], "integer", "a (int), b (int)"),
    ],
)
def test_key_hint_integer_needs_one_integer_key_column(
    tmp_path: Path, key: list[str], columns: list[tuple[str, str]], hint: str, error: str | None
) -> None:
    entry = {
        "source": "legacy.t",
        "target": "public.t",
        "key": key,
        "backfill": {"key_hint": hint},
        "columns": [{"name": n, "column_type": t, "nullable": False} for n, t in columns],
    }
    if error is None:
        assert TableMapping.model_validate(entry).backfill.key_hint == hint
        return
    write(tmp_path, "t.yaml", yaml.safe_dump(entry))
    with pytest.raises(MappingError) as err:
        load_mappings(tmp_path)
    message = str(err.value)
    assert "table legacy.t: backfill.key_hint: integer needs a key of one integer column" in message
    assert error in message
    assert "use key_hint: keyset" in message


def test_missing_key_needs_unsupported_reason(tmp_path: Path) -> None:
    write(tmp_path, "t.yaml", GOOD.replace("key: [id]\n", ""))
    with pytest.raises(MappingError, match="key is empty: give the primary key"):
        load_mappings(tmp_path)
    write(tmp_path, "t.yaml", GOOD.replace("key: [id]\n", "unsupported: no key\n"))
    mappings = load_mappings(tmp_path)
    assert list(mappings.enabled()) == []


def test_invalid_yaml_and_duplicates_are_reported_together(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", GOOD)
    write(tmp_path, "b.yaml", GOOD)
    write(tmp_path, "c.yaml", "source: [unclosed\n")
    with pytest.raises(MappingError) as err:
        load_mappings(tmp_path)
    message = str(err.value)
    assert "c.yaml: not valid YAML" in message
    assert "source legacy.orders is mapped 2 times" in message


def test_excluded_key_and_unknown_converter_rejected() -> None:
    base = {
        "source": "d.t",
        "target": "s.t",
        "key": ["id"],
        "columns": [{"name": "id", "column_type": "int(11)", "exclude": True}],
    }
    with pytest.raises(ValueError, match="key column 'id' is excluded"):
        TableMapping.model_validate(base)
    base["columns"] = [{"name": "id", "column_type": "int(11)", "converter": "magic"}]
    with pytest.raises(ValueError, match="unknown converter 'magic'"):
        TableMapping.model_validate(base)


def test_models_are_frozen() -> None:
    m = TableMapping.model_validate(
        {
            "source": "d.t",
            "target": "s.t",
            "key": ["id"],
            "columns": [{"name": "id", "column_type": "int"}],
        }
    )
    with pytest.raises(ValueError):
        m.enabled = False  # type: ignore[misc]
