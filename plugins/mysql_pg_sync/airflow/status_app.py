"""The "Sync status" FastAPI app mounted in the Airflow api-server.

Airflow does not authenticate plugin apps (a Starlette mount inherits none of the core API's
dependencies), so every route here depends on Airflow's own auth: the JWT from the
``Authorization: Bearer`` header or the UI's ``_token`` cookie, and the auth manager's
permission to see plugin views. An anonymous request gets 401.

The library is imported per request, never when the plugin loads: the scheduler, dag-processor
and triggerer load plugins too and fork their task and parsing processes from themselves, so a
library module imported here would stay at its start-time version in every task until a restart
(new code calling it fails with ``ImportError``).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from airflow.api_fastapi.auth.managers.models.resource_details import AccessView
from airflow.api_fastapi.core_api.security import requires_access_view
from fastapi import Depends, FastAPI, HTTPException
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse

URL_PREFIX = "/sync-status"


def _reports_dir() -> Path:
    from mysql_pg_sync.settings import reports_dir

    return reports_dir()


def _status() -> tuple[list[Any], str]:
    """The status rows and page, read through the same Airflow connections the DAGs use (the
    api-server resolves them from its metastore and secrets backends); passed unresolved so
    that a missing one is shown on the page."""
    from mysql_pg_sync.airflow.endpoints import endpoints_from_airflow
    from mysql_pg_sync.status.page import load_status

    return load_status(endpoints_from_airflow)


def _reports_index() -> str:
    from mysql_pg_sync.status.page import reports_index

    return reports_index(_reports_dir())


def _report_file(reports: Path, path: str) -> Path:
    """A file under the reports folder; anything else (``..``, links out) is a 404."""
    root = reports.resolve()
    candidate = (root / path).resolve()
    if not candidate.is_relative_to(root) or not candidate.is_file():
        raise HTTPException(status_code=404, detail=f"no report {path!r}")
    return candidate


def create_app() -> FastAPI:
    app = FastAPI(
        title="mysql-pg-sync status",
        dependencies=[Depends(requires_access_view(AccessView.PLUGINS))],
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )

    @app.get("/", response_class=HTMLResponse)
    async def status_page() -> HTMLResponse:
        _rows, html = await run_in_threadpool(_status)
        return HTMLResponse(html, headers={"Cache-Control": "no-store"})

    @app.get("/api/tables")
    async def status_rows() -> list[dict[str, Any]]:
        rows, _html = await run_in_threadpool(_status)
        return [{**asdict(r), "health": r.health, "reason": r.reason} for r in rows]

    @app.get("/reports/", response_class=HTMLResponse)
    async def report_list() -> HTMLResponse:
        return HTMLResponse(await run_in_threadpool(_reports_index))

    @app.get("/reports/{path:path}")
    async def report(path: str) -> FileResponse:
        return FileResponse(_report_file(_reports_dir(), path))

    return app
