"""Users' own expectations and tolerances: ``include/expectations/*.yaml``.

Every file may hold ``defaults`` (thresholds, severities) and ``tables`` keyed by the MySQL
``db.table``, the PostgreSQL ``schema.table`` or a bare table name. Columns are PostgreSQL names,
because the checks run on the PostgreSQL table. See ``include/expectations/README.md``.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from mysql_pg_sync.errors import ConfigError
from mysql_pg_sync.quality.specs import CHECKS, Severity, Thresholds

_EXPECTATION_NAME = re.compile(r"^expect_[a-z0-9_]+$")


class ExpectationsFileError(ConfigError):
    """An expectations YAML file is invalid; the message names the file, table and field."""


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ThresholdsModel(_Strict):
    row_count_tolerance_rows: int | None = Field(default=None, ge=0)
    row_count_tolerance_ratio: float | None = Field(default=None, ge=0, le=1)
    row_count_fail_ratio: float | None = Field(default=None, ge=0)
    freshness_seconds: int | None = Field(default=None, ge=0)
    conflicts_24h_max: int | None = Field(default=None, ge=0)
    dead_letters_max: int | None = Field(default=None, ge=0)
    reconcile_unrepaired_max: int | None = Field(default=None, ge=0)
    reconcile_max_age_hours: float | None = Field(default=None, gt=0)


class RangeModel(_Strict):
    min: float | None = None
    max: float | None = None
    severity: Severity | None = None
    """None: the table's or the defaults' ``severity.range`` (``fail`` by default)."""


class CustomExpectationModel(_Strict):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    type: str
    kwargs: dict[str, Any] = {}
    severity: Severity | None = None
    """None: the table's or the defaults' ``severity.custom`` (``warn`` by default)."""


class TableModel(_Strict):
    freshness_column: str | None = None
    thresholds: ThresholdsModel = ThresholdsModel()
    severity: dict[str, Severity] = {}
    disable: tuple[str, ...] = ()
    ranges: dict[str, RangeModel] = {}
    expectations: tuple[CustomExpectationModel, ...] = ()


class RetentionModel(_Strict):
    keep_runs: int | None = Field(default=None, ge=1)
    keep_days: float | None = Field(default=None, gt=0)


class DefaultsModel(_Strict):
    thresholds: ThresholdsModel = ThresholdsModel()
    severity: dict[str, Severity] = {}
    data_docs: RetentionModel = RetentionModel()


class FileModel(_Strict):
    defaults: DefaultsModel = DefaultsModel()
    tables: dict[str, TableModel] = {}


@dataclass(frozen=True)
class TableQuality:
    """One table's settings from the YAML, with the file it came from (for error messages)."""

    file: Path
    freshness_column: str | None = None
    thresholds: ThresholdsModel = field(default_factory=ThresholdsModel)
    severity: dict[str, Severity] = field(default_factory=dict)
    disable: tuple[str, ...] = ()
    ranges: dict[str, RangeModel] = field(default_factory=dict)
    expectations: tuple[CustomExpectationModel, ...] = ()
    expectation_classes: dict[str, str] = field(default_factory=dict)
    """Each custom expectation's ``type`` -> its Great Expectations class name."""


@dataclass(frozen=True)
class Retention:
    """How many data-quality runs' Great Expectations results and Data Docs pages are kept: a
    run's are deleted once it is older than ``keep_days`` or beyond the newest ``keep_runs``."""

    keep_runs: int = 30
    keep_days: float = 14.0


@dataclass(frozen=True)
class QualityConfig:
    """Defaults plus per-table settings, merged from every file."""

    thresholds: Thresholds = field(default_factory=Thresholds)
    data_docs: Retention = field(default_factory=Retention)
    severity: dict[str, Severity] = field(default_factory=dict)
    tables: dict[str, TableQuality] = field(default_factory=dict)

    def thresholds_for(self, table: TableQuality | None) -> Thresholds:
        if table is None:
            return self.thresholds
        return apply_thresholds(self.thresholds, table.thresholds)


def apply_thresholds(base: Thresholds, override: ThresholdsModel) -> Thresholds:
    changes = {
        f.name: getattr(override, f.name)
        for f in fields(base)
        if getattr(override, f.name) is not None
    }
    return replace(base, **changes)


@functools.cache
def ge_expectations() -> tuple[str, dict[str, str]]:
    """The installed Great Expectations' version and its expectations: snake_case type ->
    class name (``expect_column_kl_divergence_to_be_less_than`` ->
    ``ExpectColumnKLDivergenceToBeLessThan``: acronyms rule out converting the name by hand).

    Only called for files with custom expectations: Great Expectations takes seconds to import.
    """
    import great_expectations
    import great_expectations.expectations as gx_expectations
    from great_expectations.expectations.registry import (
        get_expectation_impl,
        list_registered_expectation_implementations,
    )

    classes: dict[str, str] = {}
    for name in list_registered_expectation_implementations():
        cls = get_expectation_impl(name)
        # only what the runner can instantiate (it looks classes up on gx.expectations)
        if getattr(gx_expectations, cls.__name__, None) is cls:
            classes[name] = cls.__name__
    return str(great_expectations.__version__), classes


def _check_expectation_type(exp: CustomExpectationModel, where: str) -> None:
    if not _EXPECTATION_NAME.match(exp.type):
        raise ExpectationsFileError(
            f"{where}.expectations[{exp.name}]: type {exp.type!r} is not a Great "
            "Expectations name; use snake_case like expect_column_values_to_match_regex"
        )
    version, known = ge_expectations()
    if exp.type in known:
        return
    close = difflib.get_close_matches(exp.type, list(known), n=1, cutoff=0.6)
    hint = (
        f"did you mean {close[0]!r}?"
        if close
        else "see https://greatexpectations.io/expectations for the names"
    )
    raise ExpectationsFileError(
        f"{where}.expectations[{exp.name}]: type {exp.type!r} is not an expectation of the "
        f"installed Great Expectations {version}; {hint}"
    )


def _check_expectation_kwargs(exp: CustomExpectationModel, where: str) -> None:
    """Build the expectation as the runner will: kwargs GE rejects (a mistyped ``regexx``, a
    ``mostly`` above 1) fail the load here, naming the file, table and check, instead of an
    ``error`` result every night that a ``warn`` severity leaves unnoticed."""
    import great_expectations.expectations as gx_expectations

    version, known = ge_expectations()
    cls = getattr(gx_expectations, known[exp.type])
    prefix = f"{where}.expectations[{exp.name}]: {exp.type}"
    if "meta" in exp.kwargs:
        raise ExpectationsFileError(f"{prefix}: kwargs.meta is set by the runner; remove it")
    try:
        cls(**exp.kwargs)
    except Exception as exc:
        errors = getattr(exc, "errors", None)
        problems: list[str] = []
        if callable(errors):
            fields_ = list(getattr(cls, "__fields__", {}))
            for err in errors():
                loc = ".".join(str(p) for p in err.get("loc", ())) or "kwargs"
                problem = f"{loc}: {err.get('msg')}"
                if err.get("type") == "value_error.extra":
                    close = difflib.get_close_matches(loc, fields_, n=1, cutoff=0.6)
                    problem += f" (did you mean {close[0]!r}?)" if close else ""
                if problem not in problems:
                    problems.append(problem)
        detail = "; ".join(problems) or f"{type(exc).__name__}: {exc}"
        raise ExpectationsFileError(
            f"{prefix}: Great Expectations {version} rejects its kwargs: {detail}"
        ) from None


def _check_names(names: Iterable[str], where: str) -> None:
    for name in names:
        if name not in CHECKS:
            raise ExpectationsFileError(
                f"{where}: unknown check {name!r}; known checks: {', '.join(CHECKS)}"
            )


def _validate(model: FileModel, path: Path) -> None:
    _check_names(model.defaults.severity, f"{path}: defaults.severity")
    for table, entry in model.tables.items():
        where = f"{path}: tables.{table}"
        _check_names(entry.severity, f"{where}.severity")
        _check_names(entry.disable, f"{where}.disable")
        for col, rng in entry.ranges.items():
            if rng.min is None and rng.max is None:
                raise ExpectationsFileError(f"{where}.ranges.{col}: give min, max or both")
            if rng.min is not None and rng.max is not None and rng.min > rng.max:
                raise ExpectationsFileError(f"{where}.ranges.{col}: min {rng.min} > max {rng.max}")
        seen: set[str] = set()
        for exp in entry.expectations:
            _check_expectation_type(exp, where)
            _check_expectation_kwargs(exp, where)
            if exp.name in seen:
                raise ExpectationsFileError(
                    f"{where}.expectations: name {exp.name!r} is used twice; names must be unique"
                )
            seen.add(exp.name)


def parse_file(path: Path) -> FileModel:
    """Read and validate one expectations file."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ExpectationsFileError(f"{path}: file not found") from None
    except yaml.YAMLError as exc:
        raise ExpectationsFileError(f"{path}: not valid YAML ({exc}); fix the syntax") from None
    if data is None:
        return FileModel()
    if not isinstance(data, dict):
        raise ExpectationsFileError(
            f"{path}: expected a mapping with 'defaults' and/or 'tables', got {type(data).__name__}"
        )
    try:
        model = FileModel.model_validate(data)
    except ValidationError as exc:
        problems = [f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()]
        raise ExpectationsFileError(f"{path}: " + "; ".join(problems)) from None
    _validate(model, path)
    return model


def expectation_files(folder: Path) -> list[Path]:
    if not folder.exists():
        return []
    if folder.is_file():
        return [folder]
    return sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml"))


def load_quality_config(folder: str | Path) -> QualityConfig:
    """Merge every YAML file in ``folder``; a table or default set twice is an error."""
    thresholds = Thresholds()
    retention = Retention()
    severity: dict[str, Severity] = {}
    tables: dict[str, TableQuality] = {}
    default_origin: dict[str, Path] = {}
    for path in expectation_files(Path(folder)):
        model = parse_file(path)
        set_thresholds = model.defaults.thresholds.model_dump(exclude_none=True)
        set_retention = model.defaults.data_docs.model_dump(exclude_none=True)
        for key in [
            *set_thresholds,
            *(f"severity.{k}" for k in model.defaults.severity),
            *(f"data_docs.{k}" for k in set_retention),
        ]:
            if key in default_origin:
                raise ExpectationsFileError(
                    f"{path}: defaults.{key} is also set in {default_origin[key]}; set it once"
                )
            default_origin[key] = path
        thresholds = apply_thresholds(thresholds, model.defaults.thresholds)
        retention = replace(retention, **set_retention)
        severity.update(model.defaults.severity)
        for name, entry in model.tables.items():
            if name in tables:
                raise ExpectationsFileError(
                    f"{path}: table {name!r} is also configured in {tables[name].file}; "
                    "keep one entry per table"
                )
            tables[name] = TableQuality(
                file=path,
                freshness_column=entry.freshness_column,
                thresholds=entry.thresholds,
                severity=dict(entry.severity),
                disable=entry.disable,
                ranges=dict(entry.ranges),
                expectations=entry.expectations,
                expectation_classes=(
                    {e.type: ge_expectations()[1][e.type] for e in entry.expectations}
                    if entry.expectations
                    else {}
                ),
            )
    return QualityConfig(
        thresholds=thresholds, data_docs=retention, severity=severity, tables=tables
    )
