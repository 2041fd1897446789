"""MySQL / MariaDB SQL: every way the MySQL side differs from PostgreSQL lives here.

Same entry points as :mod:`mysql_pg_sync.dialects.postgres`, so callers never branch on the
engine: pick the module with :func:`mysql_pg_sync.dialects.for_side` and call the same names.
"""

from __future__ import annotations

import datetime
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from mysql_pg_sync import names
from mysql_pg_sync.dialects.column_default import ColumnDefault
from mysql_pg_sync.dialects.stored_type import StoredType
from mysql_pg_sync.types.typemap import BMP_CHARSETS, LATIN1_EXTRA, UTF8_CHARSETS

NAME = "mysql"
PARAM = "%s"  # mysqlclient's paramstyle
MAX_IDENTIFIER_LENGTH = 64

# MySQL/MariaDB errors about one row's values that MySQLdb raises as OperationalError (it maps
# only some codes to IntegrityError/DataError): the change is a dead letter, the batch goes on.
# A CHECK constraint (MariaDB 4025, also a JSON column's json_valid(); MySQL 3819) is one a
# PostgreSQL application can break without knowing MySQL has it.
ROW_ERROR_CODES = frozenset(
    {
        1292,  # ER_TRUNCATED_WRONG_VALUE: incorrect datetime/number value
        1300,  # ER_INVALID_CHARACTER_STRING
        1364,  # ER_NO_DEFAULT_FOR_FIELD: a NOT NULL column without default left out
        1366,  # ER_TRUNCATED_WRONG_VALUE_FOR_FIELD: incorrect string value
        1367,  # ER_ILLEGAL_VALUE_FOR_TYPE
        1416,  # ER_CANT_CREATE_GEOMETRY_OBJECT
        1525,  # ER_WRONG_VALUE
        3140,  # ER_INVALID_JSON_TEXT (MySQL's JSON type)
        3819,  # ER_CHECK_CONSTRAINT_VIOLATED (MySQL 8)
        4025,  # ER_CONSTRAINT_FAILED (MariaDB CHECK)
    }
)
# mysqlclient's own refusal to quote a parameter (ProgrammingError, no server code): a float
# NaN or infinity ("nan can not be used with MySQL"), a value of one row, not the connection
UNQUOTABLE_VALUE = "can not be used with MySQL"


def quote_ident(name: str) -> str:
    """Quote one identifier (`order`, `Mixed Case`); backticks inside are doubled."""
    if "\x00" in name:
        raise ValueError(f"identifier {name!r} contains a NUL byte")
    return "`" + name.replace("`", "``") + "`"


def qualified(namespace: str, table: str) -> str:
    """`db`.`table`."""
    return f"{quote_ident(namespace)}.{quote_ident(table)}"


def column_list(names: Iterable[str]) -> str:
    return ", ".join(quote_ident(n) for n in names)


# connectorx reads these exactly only in another form (it panics on zero dates, TIME outside a
# day, geometry, and a DECIMAL value of more than 28 significant digits: it passes values through
# a 96-bit decimal, so decimal(30,10) failed on its widest values and the chunk was read again by
# the slow fallback); types.arrow converts them back.
_DECIMAL_FAST_SCALE = 10
_DECIMAL_FAST_DIGITS = 28
# MySQL stores a value outside an enum as '' with index 0; read as "<index>:<text>" where ''
# is also a member, since only the index tells the two apart.
ENUM_INDEX_SEPARATOR = ":"


def enum_read_carries_index(members: tuple[str, ...]) -> bool:
    """Whether an enum of ``members`` is read with its index (see :func:`arrow_read_expression`)."""
    return "" in members


def text_read_as_bytes(charset: str | None, fallback: bool) -> bool:
    """Whether a text or JSON column of ``charset`` is read as its stored bytes, to be decoded
    and checked by the converters. MariaDB stores bytes a column's character set does not
    allow (a UTF-8 encoded surrogate in utf8mb4, 0xE9 in ascii), strict mode too: the server
    sends an ascii column's to a utf8mb4 session as '?', and mysqlclient fails on invalid UTF-8
    with a bare UnicodeDecodeError (connectorx panics on it, and the fallback reads the chunk
    again). latin1 maps every byte to a character; other character sets are read as the
    server converts them."""
    name = (charset or "utf8mb4").lower()
    return name == "ascii" or (fallback and name in UTF8_CHARSETS)


def arrow_read_expression(
    name: str,
    kind: str,
    args: tuple[int, ...] = (),
    *,
    members: tuple[str, ...] = (),
    charset: str | None = None,
    fallback: bool = False,
) -> str:
    """The SELECT expression the Arrow reader uses for a column of ``kind``.

    ``args`` are the MySQL type's arguments (precision, scale), ``members`` an enum's,
    ``charset`` a text column's character set (None: utf8mb4). ``fallback``: for the mysqlclient
    reader, which reads a FLOAT's text with 6 significant digits (123456792 as 123457000) and
    so reads it as a DOUBLE, exact. The result keeps the column's name as its alias.
    """
    col = quote_ident(name)
    if kind == "float32" and fallback:
        return f"CAST({col} AS DOUBLE) AS {col}"
    if kind in ("text", "json") and text_read_as_bytes(charset, fallback):
        return f"CAST({col} AS BINARY) AS {col}"
    if kind == "enum" and enum_read_carries_index(members):
        return f"CONCAT({col} + 0, '{ENUM_INDEX_SEPARATOR}', {col}) AS {col}"
    if kind == "decimal":
        precision, scale = (*args, 10, 0)[:2] if len(args) < 2 else args[:2]
        if scale > _DECIMAL_FAST_SCALE or precision > _DECIMAL_FAST_DIGITS:
            return f"CAST({col} AS CHAR) AS {col}"
        return col
    if kind in ("date", "datetime", "timestamp"):
        return f"CAST({col} AS CHAR) AS {col}"
    if kind in ("time", "interval"):
        return f"CAST(TIME_TO_SEC({col}) * 1000000 AS SIGNED) AS {col}"
    if kind == "geometry":  # MySQL's own form, SRID (4 bytes) + WKB: ST_AsWKB drops the SRID
        return f"CAST({col} AS BINARY) AS {col}"
    return col


def quote_literal(value: str) -> str:
    """A string literal for DDL; backslashes and quotes escaped (default sql_mode)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


# --- column defaults: information_schema.COLUMNS.COLUMN_DEFAULT and EXTRA ---
# A mapping keeps a default as MariaDB 10.2.7+ shows it: a string quoted ('it''s', backslash
# escapes as in SQL), a number bare, NULL as the word, an expression as the server prints it
# (current_timestamp(6)). MySQL and older MariaDB show literals unquoted and mark expressions
# with DEFAULT_GENERATED in EXTRA (MySQL 8.0.13+): default_from_information_schema converts.

_NOW = re.compile(
    r"^(?:(?:current_timestamp|localtime|localtimestamp)(?:\(\s*(\d?)\s*\))?|now\(\s*(\d?)\s*\))$",
    re.IGNORECASE,
)
_TODAY = re.compile(r"^(?:current_date(?:\(\s*\))?|curdate\(\s*\))$", re.IGNORECASE)
_NUMBER = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$", re.IGNORECASE)
_BITS = re.compile(r"^(?:b'([01]*)'|0b([01]+))$", re.IGNORECASE)
_BARE_WORD = re.compile(r"^[A-Za-z_$][\w$]*$")
_BOOLEAN_WORDS = {"true": "1", "false": "0"}
# MySQL's string escapes; any other escaped character stands for itself (\% and \_ keep the \)
_ESCAPES = {"0": "\x00", "b": "\b", "n": "\n", "r": "\r", "t": "\t", "Z": "\x1a"}
_KEEP_BACKSLASH = "%_"
_NUMERIC_BASES = frozenset(
    {"tinyint", "smallint", "mediumint", "int", "integer", "bigint", "decimal", "numeric"}
    | {"dec", "fixed", "float", "double", "real", "year", "bool", "boolean"}
)
_ON_UPDATE = re.compile(r"\bon update\s+(.+?)\s*$", re.IGNORECASE)
_MARIADB_QUOTED_SINCE = (10, 2, 7)
_UNCLOSED_QUOTE = "a quote is not closed; a quote inside a string is written twice ('it''s')"


def parse_default(text: str) -> ColumnDefault:
    """A COLUMN_DEFAULT in MariaDB 10.2.7+'s form as a value; ValueError when it is none of
    NULL, a quoted string, a number, a bit literal or an expression (an unquoted word, an
    unterminated quote, unbalanced parentheses)."""
    stripped = text.strip()
    if not stripped:
        raise ValueError("it is empty; write '' for an empty string, or null for no default")
    lowered = stripped.lower()
    if lowered == "null":
        return ColumnDefault("null")
    if lowered in _BOOLEAN_WORDS:
        return ColumnDefault("number", _BOOLEAN_WORDS[lowered])
    if stripped.startswith("'"):
        value, end = _unquote(stripped)
        if end == len(stripped):
            return ColumnDefault("string", value)
    if _NUMBER.match(stripped):
        return ColumnDefault("number", stripped.removeprefix("+"))
    bits = _BITS.match(stripped)
    if bits:
        return ColumnDefault("bits", bits.group(1) if bits.group(1) is not None else bits.group(2))
    now = _NOW.match(stripped)
    if now:
        return ColumnDefault("now", precision=int(now.group(1) or now.group(2) or 0))
    if _TODAY.match(stripped):
        return ColumnDefault("today")
    if _BARE_WORD.match(stripped):
        raise ValueError(
            f"{stripped} is an unquoted word; quote a string as MariaDB shows it ('{stripped}'), "
            "or write an expression as MariaDB prints it, e.g. current_timestamp()"
        )
    _check_balanced(stripped)
    return ColumnDefault("expression", stripped)


def _unquote(text: str) -> tuple[str, int]:
    """The string a quoted literal at the start of ``text`` stands for, and where it ends."""
    out: list[str] = []
    i = 1
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            escaped = text[i + 1]
            out.append(
                "\\" + escaped if escaped in _KEEP_BACKSLASH else _ESCAPES.get(escaped, escaped)
            )
            i += 2
        elif char == "'" and text[i + 1 : i + 2] == "'":
            out.append("'")
            i += 2
        elif char == "'":
            return "".join(out), i + 1
        else:
            out.append(char)
            i += 1
    raise ValueError(_UNCLOSED_QUOTE)


def _check_balanced(text: str) -> None:
    depth = 0
    quote = ""
    i = 0
    while i < len(text):
        char = text[i]
        if quote:
            escape = char == "\\" and quote != "`"
            if escape or (char == quote and text[i + 1 : i + 2] == quote):
                i += 1  # the next character belongs to the string
            elif char == quote:
                quote = ""
        elif char in "'\"`":
            quote = char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise ValueError("a ')' has no '('")
        i += 1
    if quote:
        raise ValueError(_UNCLOSED_QUOTE if quote == "'" else f"a {quote} is not closed")
    if depth:
        raise ValueError("a '(' is not closed")


def quotes_defaults(version: str) -> bool:
    """Whether information_schema quotes literal defaults, by ``SELECT VERSION()``: MariaDB
    10.2.7 and later do; MySQL and older MariaDB do not."""
    match = re.match(r"(\d+)\.(\d+)\.(\d+)", version)
    if "mariadb" not in version.lower() or not match:
        return False
    return tuple(int(n) for n in match.groups()) >= _MARIADB_QUOTED_SINCE


def default_from_information_schema(
    column_default: str | None, extra: str, column_type: str, *, quoted: bool
) -> str | None:
    """COLUMN_DEFAULT in the mapping's form (MariaDB 10.2.7+'s); None for no default or NULL.

    ``quoted``: the server quotes literals itself (:func:`quotes_defaults`). Otherwise only
    NULL is missing from the text (it is SQL NULL), and an expression is known by EXTRA's
    DEFAULT_GENERATED (MySQL 8, which also escapes quotes inside it with a backslash), or is
    CURRENT_TIMESTAMP on a date and time column (MySQL 5.7, MariaDB before 10.2.7).
    """
    if column_default is None or (quoted and column_default == "NULL"):
        return None
    if quoted:
        return column_default
    base = column_type.split("(", 1)[0].split()[0].lower() if column_type.strip() else ""
    if "default_generated" in extra.lower():
        return column_default.replace("\\'", "'")
    if base in ("datetime", "timestamp") and _NOW.match(column_default.strip()):
        return column_default
    if base == "bit" and _BITS.match(column_default.strip()):
        return column_default
    if base in _NUMERIC_BASES and _NUMBER.match(column_default.strip()):
        return column_default
    return quote_literal(column_default)


def on_update_of(extra: str) -> str | None:
    """The ON UPDATE expression EXTRA names (MariaDB: ``on update current_timestamp(6)``;
    MySQL 8: ``DEFAULT_GENERATED on update CURRENT_TIMESTAMP(6)``), or None."""
    match = _ON_UPDATE.search(extra)
    return match.group(1) if match else None


# --- collations: which letters a case-insensitive (_ci) collation takes as equal ---
# A unique key under a _ci collation refuses 'A@x.com' beside 'a@x.com'. PostgreSQL enforces the
# same by indexing the value with these letters folded (ddl), and must never fold two letters
# MySQL keeps apart: PostgreSQL would then refuse rows MySQL holds legally.

_UNICODE_CHARSETS = ("utf8mb4", "utf8mb3", "ucs2", "utf16", "utf16le", "utf32")
# The root collations, without tailorings: no contractions (Czech 'ch'), no Turkish I/ı.
_UNICODE_CASE_FOLDING = (
    "general_ci",
    "general_nopad_ci",
    "general_mysql500_ci",
    "unicode_ci",
    "unicode_nopad_ci",
    "unicode_520_ci",
    "unicode_520_nopad_ci",
    "uca1400_ai_ci",
    "uca1400_nopad_ai_ci",
)
# Single-byte character sets: (last code point folded, collations). latin1's _ci collations
# take U+0152/U+0153 (OE), U+0160/U+0161 (S caron), U+017D/U+017E and U+0178/U+00FF as
# different letters, so latin1 folds only up to U+00FF.
_SINGLE_BYTE_CASE_FOLDING = {
    "latin1": (
        0xFF,
        (
            "german1_ci",
            "swedish_ci",
            "danish_ci",
            "german2_ci",
            "general_ci",
            "spanish_ci",
            "swedish_nopad_ci",
        ),
    ),
    "ascii": (0x7F, ("general_ci", "general_nopad_ci")),
}
# (first, last, step, offset): the capital letters first, first + step, ... last, each equal to
# the letter `offset` code points away (its small letter) under every collation above, as
# MariaDB 10.11 compares them (tests/integration/test_case_insensitive_unique.py checks every
# pair there). These are the pairs PostgreSQL's lower() makes under C.UTF-8, less the ~460 that
# one of these collations keeps apart: U+1E9E (capital sharp s) and U+00DF, U+023A and U+2C65,
# Georgian, Cherokee, archaic Greek and Cyrillic letters (general_ci and unicode_ci know Unicode
# 4.0's case pairs, unicode_520_ci 5.2's). lower() itself is not used: it would fold those too,
# and it follows the database's LC_CTYPE (under tr_TR it folds I to dotless ı).
_CASE_PAIR_RUNS: tuple[tuple[int, int, int, int], ...] = (
    # ASCII
    (0x41, 0x5a, 1, 32),
    # Latin-1
    (0xc0, 0xd6, 1, 32), (0xd8, 0xde, 1, 32),
    # Latin Extended-A and -B
    (0x100, 0x12e, 2, 1), (0x130, 0x130, 1, -199), (0x132, 0x136, 2, 1), (0x139, 0x147, 2, 1),
    (0x14a, 0x176, 2, 1), (0x178, 0x178, 1, -121), (0x179, 0x17d, 2, 1), (0x181, 0x181, 1, 210),
    (0x182, 0x184, 2, 1), (0x186, 0x186, 1, 206), (0x187, 0x187, 1, 1), (0x189, 0x18a, 1, 205),
    (0x18b, 0x18b, 1, 1), (0x18e, 0x18e, 1, 79), (0x18f, 0x18f, 1, 202), (0x190, 0x190, 1, 203),
    (0x191, 0x191, 1, 1), (0x193, 0x193, 1, 205), (0x194, 0x194, 1, 207), (0x196, 0x196, 1, 211),
    (0x197, 0x197, 1, 209), (0x198, 0x198, 1, 1), (0x19c, 0x19c, 1, 211), (0x19d, 0x19d, 1, 213),
    (0x19f, 0x19f, 1, 214), (0x1a0, 0x1a4, 2, 1), (0x1a6, 0x1a6, 1, 218), (0x1a7, 0x1a7, 1, 1),
    (0x1a9, 0x1a9, 1, 218), (0x1ac, 0x1ac, 1, 1), (0x1ae, 0x1ae, 1, 218), (0x1af, 0x1af, 1, 1),
    (0x1b1, 0x1b2, 1, 217), (0x1b3, 0x1b5, 2, 1), (0x1b7, 0x1b7, 1, 219), (0x1b8, 0x1b8, 1, 1),
    (0x1bc, 0x1bc, 1, 1), (0x1c4, 0x1c4, 1, 2), (0x1c5, 0x1c5, 1, 1), (0x1c7, 0x1c7, 1, 2),
    (0x1c8, 0x1c8, 1, 1), (0x1ca, 0x1ca, 1, 2), (0x1cb, 0x1db, 2, 1), (0x1de, 0x1ee, 2, 1),
    (0x1f1, 0x1f1, 1, 2), (0x1f2, 0x1f4, 2, 1), (0x1f6, 0x1f6, 1, -97), (0x1f7, 0x1f7, 1, -56),
    (0x1f8, 0x21e, 2, 1), (0x222, 0x232, 2, 1),
    # Greek and Coptic
    (0x386, 0x386, 1, 38), (0x388, 0x38a, 1, 37), (0x38c, 0x38c, 1, 64), (0x38e, 0x38f, 1, 63),
    (0x391, 0x3a1, 1, 32), (0x3a3, 0x3ab, 1, 32), (0x3da, 0x3ee, 2, 1),
    # Cyrillic
    (0x400, 0x40f, 1, 80), (0x410, 0x42f, 1, 32), (0x460, 0x480, 2, 1), (0x48c, 0x4be, 2, 1),
    (0x4c1, 0x4c3, 2, 1), (0x4c7, 0x4c7, 1, 1), (0x4cb, 0x4cb, 1, 1), (0x4d0, 0x4f4, 2, 1),
    (0x4f8, 0x4f8, 1, 1),
    # Armenian
    (0x531, 0x556, 1, 48),
    # Latin Extended Additional
    (0x1e00, 0x1e94, 2, 1), (0x1ea0, 0x1ef8, 2, 1),
    # Greek Extended
    (0x1f08, 0x1f0f, 1, -8), (0x1f18, 0x1f1d, 1, -8), (0x1f28, 0x1f2f, 1, -8),
    (0x1f38, 0x1f3f, 1, -8), (0x1f48, 0x1f4d, 1, -8), (0x1f59, 0x1f5f, 2, -8),
    (0x1f68, 0x1f6f, 1, -8), (0x1f88, 0x1f8f, 1, -8), (0x1f98, 0x1f9f, 1, -8),
    (0x1fa8, 0x1faf, 1, -8), (0x1fb8, 0x1fb9, 1, -8), (0x1fba, 0x1fbb, 1, -74),
    (0x1fbc, 0x1fbc, 1, -9), (0x1fc8, 0x1fcb, 1, -86), (0x1fcc, 0x1fcc, 1, -9),
    (0x1fd8, 0x1fd9, 1, -8), (0x1fda, 0x1fdb, 1, -100), (0x1fe8, 0x1fe9, 1, -8),
    (0x1fea, 0x1feb, 1, -112), (0x1fec, 0x1fec, 1, -7), (0x1ff8, 0x1ff9, 1, -128),
    (0x1ffa, 0x1ffb, 1, -126), (0x1ffc, 0x1ffc, 1, -9),
    # Roman numerals
    (0x2160, 0x216f, 1, 16),
    # circled letters
    (0x24b6, 0x24cf, 1, 26),
    # fullwidth letters
    (0xff21, 0xff3a, 1, 32),
    # Deseret
    (0x10400, 0x10427, 1, 40),
)  # fmt: skip


def _case_pairs(last: int) -> tuple[tuple[str, str], ...]:
    return tuple(
        (chr(capital), chr(capital + offset))
        for first, end, step, offset in _CASE_PAIR_RUNS
        for capital in range(first, end + 1, step)
        if capital <= last
    )


CASE_PAIRS = _case_pairs(0x10FFFF)


@dataclass(frozen=True)
class CaseFolding:
    """The letters a family of _ci collations takes as equal: ``name`` (utf8, latin1, ascii)
    and the (capital, small) ``pairs``, A-Z first."""

    name: str
    pairs: tuple[tuple[str, str], ...]


_UNICODE_FOLDING = CaseFolding("utf8", CASE_PAIRS)
_SINGLE_BYTE_FOLDING = {
    charset: (CaseFolding(charset, _case_pairs(last)), suffixes)
    for charset, (last, suffixes) in _SINGLE_BYTE_CASE_FOLDING.items()
}


def collation_charset(collation: str) -> str:
    """The character set a collation belongs to (``utf8mb4_unicode_ci`` -> utf8mb4); MySQL's
    old name utf8 is utf8mb3."""
    charset = collation.lower().partition("_")[0]
    return "utf8mb3" if charset == "utf8" else charset


def is_case_insensitive(collation: str | None) -> bool:
    """MySQL compares strings under this collation ignoring case (``_ci``); ``_bin``, ``_cs``
    and no collation at all (binary strings) compare case."""
    return bool(collation) and str(collation).lower().endswith("_ci")


def case_folding(collation: str) -> CaseFolding | None:
    """The letters a unique key under ``collation`` may take as equal without refusing
    anything MySQL accepts; None when the collation is not one whose letters were checked (a
    tailoring such as utf8mb4_turkish_ci, where I and i differ, or MySQL 8's
    utf8mb4_0900_ai_ci), or does not ignore case."""
    charset = collation_charset(collation)
    suffix = collation.lower().partition("_")[2]
    if charset in _UNICODE_CHARSETS and suffix in _UNICODE_CASE_FOLDING:
        return _UNICODE_FOLDING
    folding, suffixes = _SINGLE_BYTE_FOLDING.get(charset, (None, ()))
    return folding if suffix in suffixes else None


# --- reconcile: canonical text, row hashes and checksums (owned by the reconcile engineer) ---
# Every fragment is a template for a *parameterised* execute, so a literal % is written %%.
# The canonical texts must equal mysql_pg_sync.dialects.postgres's byte for byte.


def canonical_text_sql(
    column_sql: str,
    kind: str,
    *,
    scale: int = 0,
    pg_type: str = "",
    members: tuple[str, ...] = (),
    charset: str = "",
    stored: StoredType | None = None,
    implicit: bool = False,
    zero_date: str | None = None,
    strip_nul: bool = False,
) -> str:
    """Canonical text of a value (NULL stays NULL) for a reconcile kind; see reconcile.model.

    ``charset`` is the column's character set; strings not known to be utf8mb4 are converted
    (a conversion copies every value, so it is skipped when it can be). ``stored`` is the
    column's type as the server reports it: when it already prints the canonical form, the
    per-row formatting is skipped (it is most of the checksum scan's cost). ``implicit``: the
    expression may keep a number's or date's own type, for an argument of CONCAT, which prints
    it exactly as CAST(... AS CHAR) does; the row hash skips a cast per column that way.
    ``zero_date``: the text MySQL's zero date prints as in a date kind (the canonical text of
    the value PostgreSQL stores for it: values.zero_dates: sentinel); None prints NULL, as
    PostgreSQL stores it under zero_dates: null. A constant either way: no cost per row.
    ``strip_nul``: a text's NUL characters are left out (values.nul_bytes: strip, as the stream
    and backfill store it); a REPLACE per row, for such a mapping's text columns only.
    """
    c = column_sql
    stored = stored or StoredType()
    del pg_type, members  # MySQL's own storage fixes these forms
    zero = "NULL" if zero_date is None else quote_literal(zero_date).replace("%", "%%")

    def text(value: str) -> str:
        return value if implicit else f"CAST({value} AS CHAR)"

    if kind in ("char", "text", "enum", "set", "json") and charset.lower() != "utf8mb4":
        c = f"CONVERT({c} USING utf8mb4)"
    if strip_nul and kind in ("char", "text"):
        c = f"REPLACE({c}, CHAR(0 USING utf8mb4), '')"
    if kind == "int":
        if stored.zerofill or stored.data_type in ("year", ""):
            return text(f"({c} + 0)")  # ZEROFILL and YEAR print padded ('00042', '0000')
        return text(c)
    if kind == "bool":
        return text(f"({c} <> 0)")  # 1, 0 or NULL
    if kind == "bit":
        return text(f"({c} + 0)")
    if kind == "decimal":
        if stored.data_type == "decimal" and stored.scale == scale and not stored.zerofill:
            return text(c)  # a DECIMAL prints exactly its own scale
        return text(f"ROUND({c}, {int(scale)})")  # at the mapping's scale
    if kind == "float":
        # Both engines print the shortest round-trip digits; in [1e-4, 1e15) in the same fixed
        # notation (checked on 14k random doubles), elsewhere normalised to digits + exponent.
        v = c if stored.data_type == "double" and not stored.zerofill else float_value_sql(c)
        return (
            f"(CASE WHEN ABS({v}) >= 1e-4 AND ABS({v}) < 1e15 THEN {text(v)} "
            f"WHEN {v} = 0 THEN '0' ELSE CONCAT(IF({v} < 0, '-', ''), "
            f"TRIM(BOTH '0' FROM REPLACE(SUBSTRING_INDEX(CAST(ABS({v}) AS CHAR), 'e', 1), "
            f"'.', '')), 'e', CAST(FLOOR(LOG10(ABS({v}))) AS SIGNED)) END)"
        )
    if kind == "date":
        return f"IF({c} = 0, {zero}, {text(c)})"  # the zero date: NULL or the sentinel
    if kind in ("datetime", "timestamp"):
        # PostgreSQL's text of a timestamp: no trailing fractional zeros, no '.' for a whole
        # second. The session runs at time_zone '+00:00' (connections.mysql_connect). A column
        # without fractions prints that itself; one with fractions prints its own digits, and
        # DATE_FORMAT prints six whatever the type: the zeros after the '.' are trimmed, and a
        # whole second is cut at the seconds (cheaper than a second TRIM of every row). The
        # zero date has no fraction, so only the whole-second branch tests for it (with
        # `= 0`: MariaDB's NULLIF evaluates its argument twice)
        if stored.data_type in ("datetime", "timestamp") and stored.fsp == 0:
            return f"IF({c} = 0, {zero}, {text(c)})"
        if stored.data_type in ("datetime", "timestamp") and stored.fsp:
            whole, full = f"LEFT(CAST({c} AS CHAR), 19)", f"CAST({c} AS CHAR)"
        else:
            whole = f"DATE_FORMAT({c}, '%%Y-%%m-%%d %%H:%%i:%%s')"
            full = f"DATE_FORMAT({c}, '%%Y-%%m-%%d %%H:%%i:%%s.%%f')"
        whole = f"IF({c} = 0, {zero}, {whole})"
        return f"IF(MICROSECOND({c}) = 0, {whole}, TRIM(TRAILING '0' FROM {full}))"
    if kind == "time":
        return f"TIME_FORMAT({c}, '%%H:%%i:%%s.%%f')"
    if kind == "char":
        return f"TRIM(TRAILING ' ' FROM {c})"
    if kind in ("text", "enum", "set", "json"):
        return c
    if kind in ("binary", "uuid"):
        return f"HEX({c})"
    raise ValueError(f"no canonical text for reconcile kind {kind!r}")


def image_value_sql(column_sql: str, kind: str) -> str:
    """A column as a repair's row image reads it: dates as their text, as the stream's
    converters take them (types.convert), so a zero date is '0000-00-00' (and becomes NULL or
    the sentinel, as the mapping's values.zero_dates says) and a date with a zero month or day
    fails as in the stream; mysqlclient would read both as None, and a repair would write NULL.
    ``kind``: the column's kind (a reconcile kind or a types.typemap kind)."""
    if kind in ("date", "datetime", "timestamp"):
        return f"CAST({column_sql} AS CHAR)"
    return column_sql


def partial_zero_date_sql(column_sql: str) -> str:
    """True for a DATE or DATETIME with a zero year, month or day that is not the zero date
    ('2020-00-15'; MySQL stores one when sql_mode lacks NO_ZERO_IN_DATE), NULL for NULL."""
    c = column_sql
    return f"({c} <> 0 AND (YEAR({c}) = 0 OR MONTH({c}) = 0 OR DAYOFMONTH({c}) = 0))"


def float_value_sql(column_sql: str) -> str:
    """A FLOAT or DOUBLE as an exact double (MariaDB prints FLOAT with 6 digits only)."""
    return f"CAST({column_sql} AS DOUBLE)"


def row_hash_sql(texts: Iterable[str], length_prefixed: Iterable[bool]) -> str:
    """SHA-256 hex over utf8mb4 canonical texts: 'N' marks NULL, strings carry '<bytes>:', '|'
    separates. SHA-256, not MD5: both servers hash it with OpenSSL, which uses the CPU's SHA
    instructions; on MariaDB it cut the checksum scan by a fifth."""
    parts = [
        f"COALESCE(CONCAT(LENGTH({t}), ':', {t}), 'N')" if prefixed else f"COALESCE({t}, 'N')"
        for t, prefixed in zip(texts, length_prefixed, strict=True)
    ]
    return f"SHA2(CONCAT_WS('|', {', '.join(parts)}), 256)"


def hash60_sql(texts: Iterable[str], length_prefixed: Iterable[bool]) -> str:
    """The first 60 bits of the row hash as an unsigned integer (sums of them cannot
    overflow)."""
    return f"CAST(CONV(LEFT({row_hash_sql(texts, length_prefixed)}, 15), 16, 10) AS UNSIGNED)"


def bucket32_sql(texts: Iterable[str]) -> str:
    """A 32-bit bucket from the hash of key texts: the same row lands in the same bucket on both."""
    key_texts = list(texts)
    digest = row_hash_sql(key_texts, [True] * len(key_texts))
    return f"CAST(CONV(SUBSTRING({digest}, 1, 8), 16, 10) AS UNSIGNED)"


def floor_div_sql(numerator_sql: str, denominator_sql: str, *, bigint: bool = False) -> str:
    """Integer division of non-negative numbers (DIV is exact whatever ``bigint`` says)."""
    del bigint
    return f"(({numerator_sql}) DIV ({denominator_sql}))"


def ordinal_offset_sql(ordinal_sql: str, *, wide: bool = False) -> str:
    """``ordinal - %s`` (the segment's lower bound); ``wide``: in DECIMAL, for a segment more
    than 2**63 wide, where a BIGINT difference overflows ("BIGINT value is out of range")."""
    if wide:
        return f"CAST({ordinal_sql} AS DECIMAL(20, 0)) - %s"
    return f"{ordinal_sql} - %s"


def key_param(kind: str, value: object, pg_type: str = "") -> object:
    """A key value as this driver binds it, from either side's driver: reconcile looks up the
    keys one side found on the other side too. PostgreSQL hands out a uuid key as UUID,
    stored here as binary(16); a bit string ('00000101') for a BIT, which compares here by its
    number; a timestamp with a time zone (PostgreSQL's timestamptz, a Debezium ZonedTimestamp)
    as the naive UTC value a MySQL TIMESTAMP compares with (the sessions run in UTC), since
    the driver would send its offset along. ``pg_type`` is unused: MySQL's own types fix the
    forms (a boolean binds as 1 or 0 already)."""
    del pg_type
    if kind == "uuid" and isinstance(value, uuid.UUID):
        return value.bytes
    if kind == "bit" and isinstance(value, str) and value and not value.strip("01"):
        return int(value, 2)
    if isinstance(value, datetime.datetime) and value.tzinfo is not None:
        return value.astimezone(datetime.UTC).replace(tzinfo=None)
    return value


_LATIN1 = frozenset(map(chr, range(0x80))) | frozenset(map(chr, range(0xA0, 0x100)))
_LATIN1 |= frozenset(LATIN1_EXTRA)


def key_value_fits(value: object, charset: str) -> bool:
    """Whether a column of ``charset`` (its character set, '' for none) can hold a key value
    from either side's driver. A string with a character it lacks (an 'Ω' in latin1, an emoji
    in utf8mb3) cannot be a key here, and a look-up by it fails ("Illegal mix of
    collations"). Character sets other than latin1, ascii and the 3-byte ones are taken to
    hold every string: the look-up is left to the server."""
    if not isinstance(value, str) or value.isascii():
        return True
    name = charset.lower()
    if name == "latin1":
        return _LATIN1.issuperset(value)
    if name == "ascii":
        return False
    if name in BMP_CHARSETS:
        return all(c <= "\uffff" for c in value)
    return True


def table_columns_sql() -> str:
    """(column name, character set or NULL, data type (' zerofill' appended for a ZEROFILL
    column), numeric scale, fractional-second precision) of a table; parameters (namespace,
    table)."""
    return (
        "SELECT COLUMN_NAME, CHARACTER_SET_NAME, IF(COLUMN_TYPE LIKE '%% zerofill', "
        "CONCAT(DATA_TYPE, ' zerofill'), DATA_TYPE), NUMERIC_SCALE, DATETIME_PRECISION "
        "FROM information_schema.COLUMNS "
        "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s ORDER BY ORDINAL_POSITION"
    )


def compare_session_sql() -> list[str]:
    """Settings for the sessions that scan a table for checksums: none are needed."""
    return []


# --- streaming apply (owned by the stream engineer): upserts with the conflict rule inside ---


def applier_session_sql(origin: str, gtid_domain: int) -> list[tuple[str, tuple[object, ...]]]:
    """Statements that tag this session's writes so CDC can tell them apart (loop prevention).

    MariaDB: a dedicated GTID domain (needs BINLOG REPLAY on 10.11). MySQL 8.4 would use tagged
    GTIDs (``SET gtid_next = 'AUTOMATIC:<tag>'`` per transaction) instead. Foreign keys are not
    checked: a parent and its children reach the applier out of order (ADR 0006). The session's
    own ``sql_mode`` (:data:`APPLIER_SQL_MODE`), whatever the server's default.
    """
    del origin
    return [
        (f"SET SESSION gtid_domain_id = {int(gtid_domain)}", ()),
        ("SET SESSION foreign_key_checks = 0", ()),
        (f"SET SESSION sql_mode = '{APPLIER_SQL_MODE}'", ()),
    ]


# Legacy servers often run with sql_mode = '': MySQL would then cut a value that does not fit
# (a longer text, an out-of-range number, a character outside latin1) with only a warning, and
# store a key written as 0 in an AUTO_INCREMENT column as the next number. Strict, the change
# fails as a dead letter naming the column instead. Zero dates stay allowed (no NO_ZERO_DATE):
# they are MySQL's own values, written back as they came.
APPLIER_SQL_MODE = "STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION"


def null_safe_equal_sql(left: str, right: str) -> str:
    return f"({left} <=> {right})"


def upsert_target_ref(column: str) -> str:
    """The target row's current value inside ON DUPLICATE KEY UPDATE."""
    return quote_ident(column)


def upsert_incoming_ref(column: str) -> str:
    """The incoming value inside ON DUPLICATE KEY UPDATE (MariaDB has no row alias)."""
    return f"VALUES({quote_ident(column)})"


def show_columns_sql(table_sql: str) -> str:
    """The table's columns with their types (``Field``, ``Type``, ...)."""
    return f"SHOW COLUMNS FROM {table_sql}"


def insert_sql(table_sql: str, columns: Iterable[str], rows_sql: str) -> str:
    """Insert rows; a key already there is an error (ER_DUP_ENTRY), never an update."""
    return f"INSERT INTO {table_sql} ({column_list(columns)}) {rows_sql}"


def upsert_sql(
    table_sql: str,
    columns: Iterable[str],
    key_columns: Iterable[str],
    rows_sql: str,
    guard_sql: str | None = None,
) -> str:
    """Insert rows; on a key clash update each column only when ``guard_sql`` holds.

    MySQL assigns left to right and later expressions see earlier assignments, so the guard is
    evaluated into a user variable once, before any column changes.
    """
    cols = list(columns)
    keys = list(key_columns)
    updates = [c for c in cols if c not in keys]
    head = f"INSERT INTO {table_sql} ({column_list(cols)}) {rows_sql} "
    if not updates:
        return head + f"ON DUPLICATE KEY UPDATE {quote_ident(keys[0])} = {quote_ident(keys[0])}"
    if not guard_sql:
        sets = ", ".join(f"{quote_ident(c)} = VALUES({quote_ident(c)})" for c in updates)
        return head + f"ON DUPLICATE KEY UPDATE {sets}"
    first = quote_ident(updates[0])
    guarded = [f"{first} = IF((@mps_win := ({guard_sql})), VALUES({first}), {first})"]
    guarded += [
        f"{quote_ident(c)} = IF(@mps_win, VALUES({quote_ident(c)}), {quote_ident(c)})"
        for c in updates[1:]
    ]
    return head + "ON DUPLICATE KEY UPDATE " + ", ".join(guarded)


def staging_table_sql(stage: str, table_sql: str, columns: Iterable[str]) -> str:
    """A session-local table shaped like the target's columns."""
    return (
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {quote_ident(stage)} AS "
        f"SELECT {column_list(columns)} FROM {table_sql} WHERE 1 = 0"
    )


def row_estimate_sql() -> str:
    """The optimizer's row count estimate of a table (no scan); parameters (namespace, table)."""
    return (
        "SELECT COALESCE(MAX(TABLE_ROWS), 0) FROM information_schema.TABLES "
        "WHERE TABLE_SCHEMA = %s AND TABLE_NAME = %s"
    )


APPLIED_OFFSETS_TABLE = names.APPLIED_OFFSETS_TABLE  # in the synced database, by the signal table


def applied_offsets_ddl(database: str) -> str:
    """The stream's exactly-once fence for changes applied to MySQL (see state/sql/070)."""
    return (
        f"CREATE TABLE IF NOT EXISTS {qualified(database, APPLIED_OFFSETS_TABLE)} ("
        "group_id varchar(255) NOT NULL, topic varchar(255) NOT NULL, "
        "kafka_partition int NOT NULL, next_offset bigint NOT NULL, source_position text NULL, "
        "updated_at timestamp(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) "
        "ON UPDATE CURRENT_TIMESTAMP(6), PRIMARY KEY (group_id, topic, kafka_partition)"
        ") CHARACTER SET utf8mb4"
    )


def record_offset_sql(database: str) -> str:
    """Upsert one partition's next offset and source position; parameters (group, topic,
    partition, next_offset, source_position)."""
    return (
        f"INSERT INTO {qualified(database, APPLIED_OFFSETS_TABLE)} (group_id, topic, "
        "kafka_partition, next_offset, source_position) VALUES (%s, %s, %s, %s, %s) "
        "ON DUPLICATE KEY UPDATE next_offset = GREATEST(next_offset, VALUES(next_offset)), "
        "source_position = COALESCE(VALUES(source_position), source_position)"
    )


def locked_offsets_sql(database: str, partitions: int) -> str:
    """The stored next offsets of ``partitions`` partitions, locked until the batch commits;
    parameters (group, topic, partition, topic, partition, ...)."""
    pairs = ", ".join(["(%s, %s)"] * partitions)
    return (
        f"SELECT topic, kafka_partition, next_offset FROM "
        f"{qualified(database, APPLIED_OFFSETS_TABLE)} WHERE group_id = %s AND "
        f"(topic, kafka_partition) IN ({pairs}) FOR UPDATE"
    )


def rewind_offset_sql(database: str, keep_source: bool = False) -> str:
    """Set one partition's next offset back, forgetting its source position (a handoff replay
    re-applies changes at or below it) unless ``keep_source``; parameters (group, topic,
    partition, next_offset)."""
    source = "source_position" if keep_source else "NULL"
    return (
        f"INSERT INTO {qualified(database, APPLIED_OFFSETS_TABLE)} (group_id, topic, "
        "kafka_partition, next_offset, source_position) VALUES (%s, %s, %s, %s, NULL) "
        f"ON DUPLICATE KEY UPDATE next_offset = VALUES(next_offset), source_position = {source}"
    )


def applied_offsets_sql(database: str) -> str:
    """(topic, partition, next_offset, source_position) of a consumer group; parameter (group,)."""
    return (
        f"SELECT topic, kafka_partition, next_offset, source_position FROM "
        f"{qualified(database, APPLIED_OFFSETS_TABLE)} WHERE group_id = %s"
    )


# -- chunk range predicates on ENUM and SET keys ---------------------------------------------

MEMBER_NUMBER_TYPES = frozenset({"enum", "set"})
"""Column types MySQL sorts by a number (an ENUM by its member index, 0 for the invalid-value
'', a SET by its member bits) but compares with a string as text: a chunk bound on one is that
number, so that the key walk's ORDER BY and the chunk predicates agree on the order."""

ENUM_MAX_INDEX = 65535
"""The highest member index an ENUM can ever have: the open end of a range up to it still holds
the members an ALTER TABLE appends after the plan."""

MEMBER_LIST_MAX = 65536
"""The longest member-number list a range is spelled as (``IN (...)``): MySQL and MariaDB do a
range scan on an ENUM or SET for ``=`` and ``IN`` only, never for ``<``, ``>`` or BETWEEN."""


def member_number_sql(column_sql: str) -> str:
    """An ENUM's member index, a SET's member bits: the number MySQL orders the column by."""
    return f"({column_sql} + 0)"


def member_number_compare_sql(column_sql: str, data_type: str, op: str, number: int) -> str:
    """``column op number`` in member-number order, spelled so the key index is used: ``=``
    as is, a range as the list of its numbers where it is finite and short (an ENUM: up to
    :data:`ENUM_MAX_INDEX`). A SET's open upper end has up to 2**64 numbers: compared as a
    number (right, but no range scan). Comparing the column with a number compares its
    member number; with a string it would compare the member text."""
    if data_type not in MEMBER_NUMBER_TYPES:
        raise ValueError(f"{data_type!r} is not one of {', '.join(sorted(MEMBER_NUMBER_TYPES))}")
    n = int(number)
    if op == "=":
        return f"{column_sql} = {n}"
    top = ENUM_MAX_INDEX if data_type == "enum" else None
    ranges: dict[str, tuple[int, int | None]] = {
        "<": (0, n - 1),
        "<=": (0, n),
        ">": (n + 1, top),
        ">=": (n, top),
    }
    if op not in ranges:
        raise ValueError(f"comparison {op!r} is not one of =, {', '.join(ranges)}")
    low, high = ranges[op]
    if high is not None and high < low:
        return "FALSE"
    if high is not None and high - low < MEMBER_LIST_MAX:
        return f"{column_sql} IN ({', '.join(str(i) for i in range(low, high + 1))})"
    return f"{column_sql} {op} {n}"
