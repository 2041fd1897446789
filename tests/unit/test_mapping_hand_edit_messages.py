"""Messages for the usual hand-editing slips in a mapping file: an unquoted comma in a flow-style
entry, a misspelt pg_type (pure: no server)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mysql_pg_sync.cli import main
from mysql_pg_sync.errors import MappingError
from mysql_pg_sync.mapping.models import TableMapping, load_mappings
from mysql_pg_sync.mapping.pg_types import type_name, unknown_type_warnings

pytestmark = pytest.mark.unit

HEAD = "source: app.invoices\ntarget: public.invoices\nkey: [id]\ncolumns:\n"
ID = "  - {name: id, column_type: 'int(11)', nullable: false}\n"


def _file(tmp_path: Path, *columns: str) -> Path:
    path = tmp_path / "app.invoices.yaml"
    path.write_text(HEAD + ID + "".join(f"  - {c}\n" for c in columns))
    return path


@pytest.mark.parametrize(
    ("column", "quoted"),
    [
        ("{name: amount, column_type: 'decimal(10,2)', pg_type: numeric(10,2)}", "numeric(10,2)"),
        ("{name: amount, column_type: decimal(10, 2)}", "decimal(10,2)"),
    ],
)
def test_an_unquoted_comma_says_to_quote_the_value(
    tmp_path: Path, column: str, quoted: str
) -> None:
    with pytest.raises(MappingError) as caught:
        load_mappings(_file(tmp_path, column))
    message = str(caught.value)
    assert "field columns[1 'amount']" in message
    assert "an unquoted comma split the value of" in message
    assert f"'{quoted}'" in message
    assert "fix its spelling" not in message


def test_a_misspelt_key_keeps_its_hint(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match=r"nulable: .*remove it or fix its spelling"):
        load_mappings(_file(tmp_path, "{name: amount, column_type: 'int(11)', nulable: true}"))


def test_validate_warns_of_a_pg_type_postgres_does_not_build_in(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _file(
        tmp_path,
        "{name: amount, column_type: 'decimal(10,2)', pg_type: 'numerc(10,2)'}",
        "{name: status, column_type: \"enum('a','b')\", pg_type: invoices_status}",
        "{name: tags, column_type: 'varchar(40)', pg_type: 'text[]'}",
        "{name: email, column_type: 'varchar(40)', pg_type: public.citext}",
        "{name: took, column_type: 'time', pg_type: 'interval day to second'}",
    )
    assert main(["mappings", "validate", str(path)]) == 0  # a warning: an extension may have it
    out = capsys.readouterr().out
    assert "column 'amount': pg_type 'numerc(10,2)' is not a PostgreSQL built-in type" in out
    assert out.count("warning:") == 1  # the enum type ddl creates, a qualified name: not flagged


@pytest.mark.parametrize(
    ("pg_type", "name"),
    [
        ("numeric(10,2)", "numeric"),
        ("timestamp(6) with time zone", "timestamp with time zone"),
        ("TEXT[]", "text"),
        ("pg_catalog.int4", "int4"),
    ],
)
def test_type_name(pg_type: str, name: str) -> None:
    assert type_name(pg_type) == name


def test_generated_types_are_all_known(tmp_path: Path) -> None:
    mapping = TableMapping.model_validate(
        {
            "source": "app.t",
            "target": "public.t",
            "key": ["id"],
            "columns": [
                {"name": "id", "column_type": "bigint(20) unsigned", "nullable": False},
                *(
                    {"name": f"c{i}", "column_type": t}
                    for i, t in enumerate(
                        (
                            "tinyint(1)",
                            "decimal(10,2)",
                            "double",
                            "datetime(6)",
                            "timestamp",
                            "time",
                            "year(4)",
                            "json",
                            "blob",
                            "char(36)",
                            "bit(8)",
                            "set('a','b')",
                            "enum('a','b')",
                            "varchar(10)",
                            "mediumtext",
                        )
                    )
                ),
            ],
        }
    )
    assert unknown_type_warnings(mapping) == []
