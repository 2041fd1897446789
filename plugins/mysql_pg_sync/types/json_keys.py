"""Rows of a JSON text array that hold a key twice in one object, for the backfill's Arrow path.

jsonb keeps only the last value of a repeated key, MariaDB's JSON functions read the first, so
such a value cannot be copied into jsonb unchanged. Parsing every value in Python would cost
ten times the column's conversion; instead one vectorised pass over the array's bytes finds
each object key and the object it belongs to, and only rows where two keys of one object share
a fingerprint (length, first and last 8 bytes), or a key holds an escape (``"\\u0061"`` is
``"a"``), are parsed exactly (:func:`mysql_pg_sync.json_values.duplicate_key`). A collision
costs a parse, never a miss.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa

from mysql_pg_sync.json_values import duplicate_key

_QUOTE, _BACKSLASH, _COLON = ord('"'), ord("\\"), ord(":")
_STEP = np.zeros(256, np.int8)  # +1 opens a nesting level, -1 closes one
_STEP[[ord("{"), ord("[")]], _STEP[[ord("}"), ord("]")]] = 1, -1
_MASKS = np.array([(1 << (8 * n)) - 1 for n in range(8)] + [2**64 - 1], np.uint64)
_MIX = (np.uint64(0x9E3779B97F4A7C15), np.uint64(0xC2B2AE3D27D4EB4F), np.uint64(0x165667B1))

Ints = np.ndarray[Any, np.dtype[np.int64]]
Bytes = np.ndarray[Any, np.dtype[np.uint8]]


def rows_with_duplicate_keys(array: pa.Array) -> list[int]:
    """Indices of the (valid JSON) values of a string array that hold a key twice in one
    object, ascending; NULLs and text that is not JSON are never listed."""
    array = array.cast(pa.large_string())
    if array.null_count:
        array = array.fill_null("")  # the bytes under a NULL slot are not specified
    if len(array) == 0 or array.buffers()[2] is None:
        return []
    offsets = np.frombuffer(array.buffers()[1], np.int64)[
        array.offset : array.offset + len(array) + 1
    ]
    data = np.frombuffer(array.buffers()[2], np.uint8)[offsets[0] : offsets[-1]]
    suspects = _suspect_rows(data, offsets - offsets[0])
    return [int(i) for i in suspects if duplicate_key(array[int(i)].as_py()) is not None]


def _suspect_rows(data: Bytes, starts: Ints) -> Ints:
    """Rows that may hold a repeated key (a superset: each is then parsed). Works on the
    structural characters only (quotes, backslashes, brackets, colons): one pass over the
    bytes finds them, the rest is per character found."""
    at = np.flatnonzero(
        (data == _QUOTE)
        | (data == _BACKSLASH)
        | (data == _COLON)
        | (data == ord("{"))
        | (data == ord("}"))
        | (data == ord("["))
        | (data == ord("]"))
    )
    char = data[at]
    backslash = np.flatnonzero(char == _BACKSLASH)
    live = char != _BACKSLASH
    live[_escaped(at, backslash)] = False
    quote = live & (char == _QUOTE)
    quotes_so_far = np.cumsum(quote, dtype=np.int32)
    row_quotes = np.diff(np.concatenate([[0], quotes_so_far])[np.searchsorted(at, starts)])
    if np.any(row_quotes % 2):  # a row that is not JSON: the strings of the next are unknown
        return np.arange(len(starts) - 1)
    outside = quotes_so_far % 2 == 0  # a quote itself counts: a closing one is outside
    closing = np.flatnonzero(quote[:-1] & outside[:-1] & (char[1:] == _COLON))
    if len(closing) < 2:
        return np.zeros(0, np.int64)
    quote_index = np.flatnonzero(quote)
    opening = quote_index[np.searchsorted(quote_index, closing) - 1]
    key_start, key_end = at[opening] + 1, at[closing]
    step = np.where(outside & live, _STEP[char], 0)
    depth = np.cumsum(step, dtype=np.int32)
    owner = _owning_object(step, depth, closing)
    escaped_key = np.searchsorted(backslash, opening) != np.searchsorted(backslash, closing)
    fingerprint = _fingerprint(data, key_start, key_end) ^ (owner.astype(np.uint64) * _MIX[0])
    ordered = np.sort(fingerprint)
    repeated = ordered[1:][ordered[1:] == ordered[:-1]]
    suspect = escaped_key | np.isin(fingerprint, repeated)
    return np.unique(np.searchsorted(starts, key_start[suspect], side="right") - 1)


def _escaped(at: Ints, backslash: Ints) -> Ints:
    """Indices (into ``at``) of the structural characters a backslash escapes: in a run of
    backslashes, the character after each one at an even distance from the run's start."""
    if len(backslash) == 0:
        return backslash
    where = at[backslash]
    new_run = np.ones(len(where), bool)
    new_run[1:] = where[1:] != where[:-1] + 1
    run_start = where[new_run][np.cumsum(new_run) - 1]
    escaper = backslash[(where - run_start) % 2 == 0]
    after = escaper[escaper + 1 < len(at)] + 1
    return after[at[after] == at[after - 1] + 1]


def _owning_object(step: Any, depth: Any, closing: Ints) -> Ints:
    """For each key (its closing quote's index), a number naming the object it belongs to:
    the index of the last bracket before it that opened the key's nesting depth."""
    opens = np.flatnonzero(step > 0)
    span = len(step) + 1
    openers = np.sort(depth[opens].astype(np.int64) * span + opens)  # by depth, then position
    found = np.searchsorted(openers, depth[closing].astype(np.int64) * span + closing) - 1
    return openers[np.maximum(found, 0)]


def _fingerprint(data: Bytes, start: Ints, end: Ints) -> Any:
    """Length and first and last 8 bytes of each key, mixed: equal keys are equal here."""
    padded = np.concatenate([data, np.zeros(8, np.uint8)])
    windows = np.lib.stride_tricks.sliding_window_view(padded, 8)
    length = end - start
    first = np.ascontiguousarray(windows[start]).view("<u8").ravel() & _MASKS[np.minimum(length, 8)]
    last = np.ascontiguousarray(windows[np.maximum(end - 8, 0)]).view("<u8").ravel()
    last = np.where(length > 8, last, np.uint64(0))
    return first ^ (last * _MIX[1]) ^ (length.astype(np.uint64) * _MIX[2])
