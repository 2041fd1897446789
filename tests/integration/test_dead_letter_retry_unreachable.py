"""A retry that cannot reach a database raises (the task retries later) instead of failing the
letters' retry for good (real drivers, a port nothing listens on)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mysql_pg_sync.cdc.dead_letter_retry import _raise_if_unreachable
from mysql_pg_sync.connections import DatabaseUnreachable, mysql_connect
from mysql_pg_sync.settings import Endpoints


def test_an_unreachable_database_is_raised_not_an_outcome(endpoints: Endpoints) -> None:
    closed = replace(endpoints, mysql=replace(endpoints.mysql, port=1))
    with pytest.raises(Exception) as failed:
        mysql_connect(closed.mysql)
    with pytest.raises(DatabaseUnreachable, match=r"cannot connect to MySQL at 127\.0\.0\.1:1"):
        _raise_if_unreachable(failed.value, closed)
    _raise_if_unreachable(ValueError("a value that does not convert"), closed)  # an outcome
