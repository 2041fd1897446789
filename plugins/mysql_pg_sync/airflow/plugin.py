"""The Airflow plugin: the "Sync status" page (a FastAPI app plus a nav entry).

Loaded through ``plugins/mysql_pg_sync_plugin.py``, because ``plugins/.airflowignore`` keeps
Airflow's plugin loader out of the library folder.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from mysql_pg_sync.airflow.status_app import URL_PREFIX, create_app


class SyncStatusPlugin(AirflowPlugin):
    name = "mysql_pg_sync"
    fastapi_apps = [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "Sync status"}]
    external_views = [
        {
            "name": "Sync status",
            "href": URL_PREFIX.lstrip("/") + "/",
            "url_route": "sync-status",
            "destination": "nav",
            "nav_top_level": True,
        }
    ]
