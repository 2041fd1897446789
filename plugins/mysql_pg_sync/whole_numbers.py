"""Whole numbers from a trigger form: Airflow hands an integer Param back as a float (1000.0)
when the form's JSON says so, and a bool is an int subclass that must not mean 1."""

from __future__ import annotations


def as_whole(value: object) -> int | None:
    """``value`` as an int if it is a whole number (``1000`` or ``1000.0``), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None
