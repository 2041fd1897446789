"""Rows a comparison saw differ but could not pin to a key are no drift on record: the HTML
report says so on the table, so an 'in sync' table with them is not taken as proven equal."""

from __future__ import annotations

import html

import pytest
from tests.unit.reconcile_runs import finished_run, table_result

from mysql_pg_sync.reconcile.report import to_html, unseen

pytestmark = pytest.mark.unit


def test_vanished_keys_and_unexplained_segments_are_named_on_their_table() -> None:
    run = finished_run(
        table_result("legacy.orders", vanished=2, unexplained_leaves=1),
        table_result("legacy.items"),
    )
    page = html.unescape(to_html(run))
    assert "2 differing key(s) were on neither side when read again" in page
    assert "1 segment(s) had other row counts on the two sides" in page
    assert page.count("compare this table again to be sure") == 1


def test_a_table_without_them_gets_no_notice() -> None:
    assert unseen(table_result("legacy.items", vanished=0, unexplained_leaves=0)) == ""
    assert unseen(table_result("legacy.items")) == ""
