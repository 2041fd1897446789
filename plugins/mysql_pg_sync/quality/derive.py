"""Derive each table's checks from its mapping, then apply the user's YAML on top.

Pure: no database, no Great Expectations import. :func:`derive_checks` is the entry point.
"""

from __future__ import annotations

from mysql_pg_sync.errors import MappingError
from mysql_pg_sync.mapping.models import ColumnMapping, MappingSet, TableMapping
from mysql_pg_sync.quality.config import ExpectationsFileError, QualityConfig, TableQuality
from mysql_pg_sync.quality.ranges import mysql_range
from mysql_pg_sync.quality.specs import DEFAULT_SEVERITY, CheckSpec, Severity, Thresholds
from mysql_pg_sync.types.convert import zero_date_as_null

_TIME_KINDS = ("datetime", "timestamp", "date")
# Kinds whose PostgreSQL column compares with the numbers a ``ranges:`` entry holds.
_NUMBER_KINDS = ("int", "uint64", "decimal", "float32", "float64", "year")


class _Builder:
    """Collects one table's checks, applying severities and disabled checks."""

    def __init__(self, mapping: TableMapping, config: QualityConfig, table: TableQuality | None):
        self.mapping = mapping
        self.severity: dict[str, Severity] = {**DEFAULT_SEVERITY, **config.severity}
        self.disabled: set[str] = set()
        if table is not None:
            self.severity.update(table.severity)
            self.disabled = set(table.disable)
        self.specs: list[CheckSpec] = []

    def add(
        self, check: str, expectation: str, severity: Severity | None = None, **kw: object
    ) -> None:
        if check in self.disabled:
            return
        self.specs.append(
            CheckSpec(
                table=self.mapping.name,
                check=check,
                severity=severity or self.severity[check],
                expectation=expectation,
                **kw,  # type: ignore[arg-type]
            )
        )


def _key_checks(b: _Builder) -> None:
    key = list(b.mapping.pg_key)
    if len(key) == 1:
        b.add(
            "key_unique", "ExpectColumnValuesToBeUnique", column=key[0], kwargs={"column": key[0]}
        )
    else:
        b.add("key_unique", "ExpectCompoundColumnsToBeUnique", kwargs={"column_list": key})
    for col in key:
        b.add("key_not_null", "ExpectColumnValuesToNotBeNull", column=col, kwargs={"column": col})


def _column_checks(b: _Builder, column: ColumnMapping, table: TableQuality | None) -> None:
    name = column.pg_name
    # Checks run on the PostgreSQL table only. Under values.zero_dates: null, a NOT NULL MySQL
    # date column is NULLable there by design (ddl uses the same rule): NULL is how MySQL's
    # zero date arrives, and reconcile counts the pair in sync, so NULL is no breach.
    pg_nullable = column.nullable or zero_date_as_null(column, b.mapping.values)
    if not pg_nullable and column.name not in b.mapping.key:
        b.add("not_null", "ExpectColumnValuesToNotBeNull", column=name, kwargs={"column": name})
    if column.kind == "enum" and column.values:
        b.add(
            "enum_values",
            "ExpectColumnValuesToBeInSet",
            column=name,
            kwargs={"column": name, "value_set": list(column.values)},
        )
    if column.kind == "set" and column.values:
        b.add(
            "set_values",
            "ExpectColumnValuesToBeInSet",
            column=name,
            asset="set_members",
            kwargs={"column": name, "value_set": list(column.values)},
        )
    declared = table.ranges.get(name) if table is not None else None
    if declared is not None and table is not None:
        if column.kind not in _NUMBER_KINDS:
            raise ExpectationsFileError(
                f"{table.file}: tables.{b.mapping.name}.ranges.{name}: column {name!r} is "
                f"{column.column_type} in MySQL ({column.kind}), not a number, so PostgreSQL "
                "cannot compare it with min/max; remove the entry, or add a custom expectation "
                "instead (expect_column_value_lengths_to_be_between for a text's length, "
                "expect_column_values_to_be_between with quoted bounds for dates)"
            )
        kwargs = {"column": name, "min_value": declared.min, "max_value": declared.max}
        b.add(
            "range", "ExpectColumnValuesToBeBetween", declared.severity, column=name, kwargs=kwargs
        )
        return
    derived = mysql_range(column)
    if derived is not None:
        low, high = derived
        kwargs = {"column": name, "min_value": low, "max_value": high}
        b.add("range", "ExpectColumnValuesToBeBetween", column=name, kwargs=kwargs)


def _pg_names(mapping: TableMapping) -> list[str]:
    return [c.pg_name for c in mapping.synced_columns()]


def freshness_column(mapping: TableMapping, table: TableQuality | None) -> ColumnMapping | None:
    """The user's ``freshness_column``, else the last-writer-wins timestamp column, else None."""
    if table is not None and table.freshness_column:
        try:
            column = mapping.column_by_pg_name(table.freshness_column)
        except MappingError:
            raise ExpectationsFileError(
                f"{table.file}: tables.{mapping.name}.freshness_column: no PostgreSQL column "
                f"{table.freshness_column!r}; known: {_pg_names(mapping)}"
            ) from None
        if column.kind not in _TIME_KINDS:
            raise ExpectationsFileError(
                f"{table.file}: tables.{mapping.name}.freshness_column: {column.pg_name!r} is "
                f"{column.kind}, not a date/time column; name a column that records changes"
            )
        return column
    if mapping.conflict.rule == "last_writer_wins" and mapping.conflict.column:
        column = mapping.column(mapping.conflict.column)
        return column if column.kind in _TIME_KINDS else None
    return None


def _sync_checks(b: _Builder, thresholds: Thresholds, table: TableQuality | None) -> None:
    b.add(
        "row_count_parity",
        "ExpectTableRowCountToBeBetween",
        params={
            "tolerance_rows": thresholds.row_count_tolerance_rows,
            "tolerance_ratio": thresholds.row_count_tolerance_ratio,
            "fail_ratio": thresholds.row_count_fail_ratio,
        },
    )
    fresh = freshness_column(b.mapping, table)
    if fresh is not None:
        b.add(
            "freshness",
            "ExpectColumnMaxToBeBetween",
            column=fresh.pg_name,
            asset="freshness",
            kwargs={"column": "lag_seconds", "max_value": thresholds.freshness_seconds},
            params={"mysql_column": fresh.name, "kind": fresh.kind},
        )
    for check, limit in (
        ("reconcile_drift", thresholds.reconcile_unrepaired_max),
        ("conflicts_24h", thresholds.conflicts_24h_max),
        ("dead_letters", thresholds.dead_letters_max),
    ):
        b.add(
            check,
            "ExpectColumnMaxToBeBetween",
            asset="state",
            kwargs={"column": check, "max_value": limit},
            params=(
                {"max_age_hours": thresholds.reconcile_max_age_hours}
                if check == "reconcile_drift"
                else {}
            ),
        )


def _custom_checks(b: _Builder, mapping: TableMapping, table: TableQuality) -> None:
    known = {c.pg_name for c in mapping.synced_columns()}
    for exp in table.expectations:
        column = exp.kwargs.get("column")
        if isinstance(column, str) and column not in known:
            raise ExpectationsFileError(
                f"{table.file}: tables.{mapping.name}.expectations[{exp.name}]: no PostgreSQL "
                f"column {column!r}; known: {sorted(known)}"
            )
        expectation = table.expectation_classes.get(exp.type)
        if expectation is None:  # load_quality_config resolves every type it accepts
            raise ExpectationsFileError(
                f"{table.file}: tables.{mapping.name}.expectations[{exp.name}]: type "
                f"{exp.type!r} was not checked against Great Expectations; load the folder "
                "with load_quality_config"
            )
        b.add(
            "custom",
            expectation,
            exp.severity,
            column=column if isinstance(column, str) else None,
            kwargs=dict(exp.kwargs),
            label=exp.name,
        )


def table_settings(mappings: MappingSet, config: QualityConfig) -> dict[str, TableQuality]:
    """The YAML's table entries keyed by mapping name; unknown tables are an error, and so is
    one table under two names (``legacy.orders`` and ``public.orders``): neither may win."""
    resolved: dict[str, TableQuality] = {}
    named: dict[str, str] = {}
    for name, entry in config.tables.items():
        try:
            (mapping,) = mappings.select([name])
        except MappingError as exc:
            raise ExpectationsFileError(f"{entry.file}: tables.{name}: {exc}") from None
        if mapping.name in resolved:
            first = resolved[mapping.name]
            raise ExpectationsFileError(
                f"{entry.file}: tables.{name} and {first.file}: tables.{named[mapping.name]} "
                f"are the same table ({mapping.name} -> {mapping.target}); keep one entry"
            )
        resolved[mapping.name] = entry
        named[mapping.name] = name
    return resolved


def derive_checks(mappings: MappingSet, config: QualityConfig) -> list[CheckSpec]:
    """Every check for every enabled table, in table order."""
    settings = table_settings(mappings, config)
    specs: list[CheckSpec] = []
    for mapping in mappings.enabled():
        table = settings.get(mapping.name)
        b = _Builder(mapping, config, table)
        _key_checks(b)
        for column in mapping.synced_columns():
            _column_checks(b, column, table)
        for name in table.ranges if table is not None else ():
            if name not in {c.pg_name for c in mapping.synced_columns()}:
                raise ExpectationsFileError(
                    f"{table.file}: tables.{mapping.name}.ranges: no PostgreSQL column "  # type: ignore[union-attr]
                    f"{name!r}; known: {_pg_names(mapping)}"
                )
        _sync_checks(b, config.thresholds_for(table), table)
        if table is not None:
            _custom_checks(b, mapping, table)
        specs.extend(b.specs)
    return specs
