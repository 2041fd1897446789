"""Preflight checks for CDC: is each server configured the way the Debezium connectors need?

Each check module gathers facts from one server (I/O) and judges them with pure functions, so the
judging is unit-tested without servers. A failed check names the fix.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from mysql_pg_sync.errors import PreflightError

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Finding:
    """One problem a check found; ``fix`` says what to change."""

    check: str
    message: str
    fix: str
    severity: Severity = "error"

    def __str__(self) -> str:
        return f"[{self.severity}] {self.check}: {self.message}. Fix: {self.fix}"


def errors(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity == "error"]


def raise_for_errors(server: str, findings: Iterable[Finding]) -> list[Finding]:
    """Raise one PreflightError listing every error; return the warnings otherwise."""
    findings = list(findings)
    failed = errors(findings)
    if failed:
        lines = "\n  - ".join(str(f) for f in failed)
        raise PreflightError(
            f"{server} is not ready for CDC ({len(failed)} problem(s)):\n  - {lines}"
        )
    return [f for f in findings if f.severity == "warning"]
