"""Loading the Airflow plugin imports none of the library.

Every Airflow component loads plugins and forks its task or parsing processes from itself
(LocalExecutor workers, the dag-processor's parsers), so a library module the plugin imports is
frozen at the component's start-time version in every task: after a change, new code that uses
it fails with ImportError under the real scheduler, while dag.test() runs pass.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# What the plugin itself is made of; nothing else from mysql_pg_sync may load with it.
PLUGIN_MODULES = {
    "mysql_pg_sync",
    "mysql_pg_sync.airflow",
    "mysql_pg_sync.airflow.plugin",
    "mysql_pg_sync.airflow.status_app",
}
_LOAD_PLUGIN = r"""
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("mysql_pg_sync_plugin", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
assert module.SyncStatusPlugin.fastapi_apps
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] == "mysql_pg_sync")))
"""


def test_loading_the_plugin_imports_no_library_module() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _LOAD_PLUGIN, str(REPO / "plugins" / "mysql_pg_sync_plugin.py")],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    loaded = set(json.loads(result.stdout.strip().splitlines()[-1]))
    assert loaded - PLUGIN_MODULES == set(), (
        "the plugin imports library modules at load time; import them inside the request "
        "handlers (see mysql_pg_sync/airflow/status_app.py)"
    )
