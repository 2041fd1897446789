"""argparse types that refuse out-of-range numbers while the command line is parsed: argparse
names the option in its error, and nothing is planned or connected before."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def whole(least: int, meaning: str = "", most: int | None = None) -> Callable[[str], int]:
    """An integer >= ``least`` (and <= ``most``); ``meaning`` says what a special value does
    (", 0: ...")."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or value < least or (most is not None and value > most):
            allowed = f"from {least} to {most}" if most is not None else f">= {least}"
            raise argparse.ArgumentTypeError(f"must be an integer {allowed}{meaning}, got {text!r}")
        return value

    return parse


def number(least: float, *, strict: bool = False, what: str = "a number") -> Callable[[str], float]:
    """A finite number >= ``least`` (> with ``strict``)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or value < least or (strict and value == least):
            raise argparse.ArgumentTypeError(
                f"must be {what} {'>' if strict else '>='} {least:g}, got {text!r}"
            )
        return value

    return parse
