"""Read mapping YAML files into :class:`TableMapping` values, with errors an operator can act on.

A file holds one entry (a mapping with ``source``), a list of entries, or ``{tables: [...]}``.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from mysql_pg_sync.errors import MappingError
from mysql_pg_sync.mapping.models import TableMapping

# libyaml's loader is ~10x faster than the pure-Python one: 200+ files parse in well under 1 s.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_HINTS = {
    "missing": "add the field",
    "extra_forbidden": "remove it or fix its spelling",
    "literal_error": "use one of the allowed values",
    "bool_type": "use true or false",
    "bool_parsing": "use true or false",
    "int_parsing": "use a whole number",
    "greater_than": "use a positive number",
}


def raw_entries(path: Path) -> list[Any]:
    """The entries a file holds, before validation."""
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_SafeLoader)
    except FileNotFoundError:
        raise MappingError(f"{path}: file not found") from None
    except yaml.YAMLError as exc:
        raise MappingError(f"{path}: not valid YAML ({exc}); fix the syntax") from None
    if data is None:
        return []
    if isinstance(data, dict) and "tables" in data and "source" not in data:
        data = data["tables"]
    if isinstance(data, dict):
        return [data]
    if isinstance(data, list):
        return data
    raise MappingError(
        f"{path}: expected a mapping entry, a list of entries or {{tables: [...]}}, "
        f"got {type(data).__name__}"
    )


def _entry_label(entry: Any, index: int) -> str:
    if isinstance(entry, dict) and entry.get("source"):
        source = entry["source"]
        if isinstance(source, dict):
            return f"table {source.get('db')}.{source.get('table')}"
        return f"table {source}"
    return f"entry #{index + 1}"


def _field_path(entry: Any, loc: tuple[int | str, ...]) -> str:
    """``('columns', 2, 'pg_type')`` -> ``columns[2 'status'].pg_type``."""
    parts: list[str] = []
    node = entry
    for item in loc:
        if isinstance(item, int):
            label = f"[{item}]"
            if isinstance(node, list) and item < len(node):
                node = node[item]
                if isinstance(node, dict) and "name" in node:
                    label = f"[{item} {node['name']!r}]"
            parts.append(label)
            continue
        if item.startswith(("function-", "custom-")):  # pydantic validator frames
            continue
        parts.append(("." if parts else "") + item)
        node = node.get(item) if isinstance(node, dict) else None
    return "".join(parts) or "(entry)"


def _node(entry: Any, loc: tuple[int | str, ...]) -> Any:
    node = entry
    for item in loc:
        if isinstance(item, int) and isinstance(node, list) and item < len(node):
            node = node[item]
        elif isinstance(item, str) and isinstance(node, dict):
            node = node.get(item)
        else:
            return None
    return node


def _split_value_hint(entry: Any, loc: tuple[int | str, ...]) -> str | None:
    """The hint to quote a value an unquoted comma split, when the mapping the error is about
    (or its parent, for an unknown key) holds a key that is the value's tail: YAML reads
    ``{pg_type: numeric(10,2)}`` as ``pg_type: numeric(10`` and a key ``2)``."""
    node = _node(entry, loc)
    if not isinstance(node, dict):
        node = _node(entry, loc[:-1])
    if not isinstance(node, dict):
        return None
    keys = list(node)
    for before, key in itertools.pairwise(keys):
        if isinstance(key, str) and key.rstrip().endswith(")") and node[key] is None:
            return (
                f"an unquoted comma split the value of {before}: inside {{...}} YAML ends a "
                f"value at a comma; quote values that hold one, e.g. {before}: "
                f"'{node[before]},{key.strip()}'"
            )
    return None


def _describe(exc: ValidationError, entry: Any) -> list[str]:
    problems = []
    for err in exc.errors(include_url=False):
        message = err["msg"].removeprefix("Value error, ")
        # a comma that split a value causes the error, whatever it says
        hint = _split_value_hint(entry, tuple(err["loc"])) or _HINTS.get(err["type"])
        field = _field_path(entry, tuple(err["loc"]))
        prefix = "" if field == "(entry)" else f"field {field}: "
        problems.append(prefix + message + (f"; {hint}" if hint else ""))
    return problems


def parse_file(path: Path) -> tuple[list[TableMapping], list[str]]:
    """Valid entries and one problem line per invalid field (file, table and field named)."""
    try:
        entries = raw_entries(path)
    except MappingError as exc:
        return [], [str(exc)]
    return validate_entries(path, entries)


def validate_entries(path: Path, entries: list[Any]) -> tuple[list[TableMapping], list[str]]:
    """Validate raw entries read from ``path`` (named in every problem line)."""
    tables: list[TableMapping] = []
    problems: list[str] = []
    for index, entry in enumerate(entries):
        label = _entry_label(entry, index)
        if not isinstance(entry, dict):
            problems.append(f"{path}: {label}: expected a mapping with source, target, columns")
            continue
        try:
            tables.append(TableMapping.model_validate(entry))
        except ValidationError as exc:
            problems += [f"{path}: {label}: {p}" for p in _describe(exc, entry)]
        except MappingError as exc:
            problems.append(f"{path}: {label}: {exc}")
    return tables, problems
