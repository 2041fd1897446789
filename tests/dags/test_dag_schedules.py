"""Every scheduled DAG keeps running: its next scheduled run gets a logical date of its own.

The scheduler skips a run whose logical date already exists ("run already exists; skipping
dagrun creation"); the continuous stream DAG without a start_date got its first run's logical
date again for the second run, so it ran once and never again.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from airflow.dag_processing.dagbag import DagBag
from airflow.serialization.serialized_objects import DagSerialization
from airflow.timetables.base import TimeRestriction

DAGS = Path(__file__).resolve().parents[2] / "dags"


@pytest.fixture(scope="module")
def bag() -> DagBag:
    return DagBag(dag_folder=str(DAGS))


@pytest.mark.parametrize("dag_id", ["stream", "connectors_health", "reconcile", "state_retention"])
def test_the_next_scheduled_run_gets_a_new_logical_date(bag: DagBag, dag_id: str) -> None:
    dag = DagSerialization.from_dict(DagSerialization.to_dict(bag.dags[dag_id]))
    restriction = TimeRestriction(earliest=dag.start_date, latest=None, catchup=dag.catchup)
    first = dag.timetable.next_dagrun_info(
        last_automated_data_interval=None, restriction=restriction
    )
    assert first is not None
    second = dag.timetable.next_dagrun_info(
        last_automated_data_interval=first.data_interval, restriction=restriction
    )
    assert second is not None
    assert second.logical_date > first.logical_date
