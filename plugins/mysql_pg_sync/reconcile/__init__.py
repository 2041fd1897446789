"""Nightly reconciliation: find drift between MySQL and PostgreSQL exactly, then repair it.

Pipeline per table (design decision 4):
``model`` (what to compare) -> ``segments`` (key ranges) -> ``checksum`` (count + sum of a 60-bit
md5 slice per segment, pushed down to both databases in parallel) -> ``bisect`` (split mismatching
segments down to (key, row hash) pairs) -> ``diff`` (classify missing / extra / different, name
the columns) -> ``recheck`` (in-flight changes are not drift) -> ``repair`` (through the stream
applier) -> ``report`` (JSON + self-contained HTML) and ``store`` (state schema).

The algorithm modules know nothing about databases; every SQL fragment comes from the dialects.
"""
