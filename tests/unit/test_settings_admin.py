"""Administrator endpoints: same servers and databases, the admin credentials, clear errors."""

from __future__ import annotations

import pytest

from mysql_pg_sync.errors import ConfigError
from mysql_pg_sync.settings import admin_endpoints

ENV = {
    "MPS_MYSQL_HOST": "db1",
    "MPS_MYSQL_DATABASE": "legacy",
    "MPS_PG_DATABASE": "app",
    "MPS_MYSQL_ADMIN_USER": "root2",
    "MPS_MYSQL_ADMIN_PASSWORD": "pw1",
    "MPS_PG_ADMIN_USER": "pgadmin",
    "MPS_PG_ADMIN_PASSWORD": "pw2",
}


def test_admin_endpoints_keep_the_servers_and_swap_the_credentials() -> None:
    mysql, postgres = admin_endpoints(ENV)
    assert (mysql.host, mysql.database, mysql.user, mysql.password) == (
        "db1",
        "legacy",
        "root2",
        "pw1",
    )
    assert (postgres.database, postgres.user, postgres.password) == ("app", "pgadmin", "pw2")


@pytest.mark.parametrize("missing", ["MPS_MYSQL_ADMIN_PASSWORD", "MPS_PG_ADMIN_USER"])
def test_a_missing_admin_variable_is_named(missing: str) -> None:
    env = {k: v for k, v in ENV.items() if k != missing}
    with pytest.raises(ConfigError, match=missing):
        admin_endpoints(env)
