"""The local Apicurio Registry answers the Confluent Schema Registry API for Avro schemas."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from typing import Any

import fastavro
import httpx
import pytest

CONFLUENT_JSON = {"Content-Type": "application/vnd.schemaregistry.v1+json"}
ORDER_V1: dict[str, Any] = {
    "type": "record",
    "name": "Order",
    "namespace": "mps.test",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "note", "type": ["null", "string"], "default": None},
    ],
}


@pytest.fixture(scope="module")
def registry() -> Iterator[httpx.Client]:
    """A client on MPS_SCHEMA_REGISTRY_URL; skips only when nothing listens there."""
    url = os.environ["MPS_SCHEMA_REGISTRY_URL"]
    with httpx.Client(base_url=url, headers=CONFLUENT_JSON, timeout=30) as client:
        try:
            client.get("/subjects")
        except httpx.ConnectError:
            pytest.skip(
                f"the registry service is not running at {url}; "
                "start it with `bash stack/stack up registry`"
            )
        yield client


@pytest.fixture
def subject(registry: httpx.Client) -> Iterator[str]:
    name = f"mps_test_{uuid.uuid4().hex[:10]}-value"
    yield name
    # A Confluent-style delete is soft first, then permanent.
    if registry.delete(f"/subjects/{name}").status_code == 200:
        registry.delete(f"/subjects/{name}", params={"permanent": "true"})


def register(registry: httpx.Client, subject: str, schema: dict[str, Any]) -> httpx.Response:
    body = {"schemaType": "AVRO", "schema": json.dumps(schema)}
    return registry.post(f"/subjects/{subject}/versions", json=body)


def with_field(schema: dict[str, Any], field: dict[str, Any]) -> dict[str, Any]:
    return {**schema, "fields": [*schema["fields"], field]}


def test_avro_schema_registers_and_reads_back(registry: httpx.Client, subject: str) -> None:
    registered = register(registry, subject, ORDER_V1)
    assert registered.status_code == 200, registered.text
    schema_id = registered.json()["id"]

    latest = registry.get(f"/subjects/{subject}/versions/latest").json()
    assert latest["subject"] == subject
    assert latest["version"] == 1
    assert latest["id"] == schema_id
    assert json.loads(latest["schema"]) == ORDER_V1

    by_id = registry.get(f"/schemas/ids/{schema_id}").json()
    fastavro.parse_schema(json.loads(by_id["schema"]))
    assert json.loads(by_id["schema"]) == ORDER_V1
    assert subject in registry.get("/subjects").json()

    # Serializers re-register on every start: the same schema must keep its id and version.
    again = register(registry, subject, ORDER_V1)
    assert again.json()["id"] == schema_id
    assert registry.get(f"/subjects/{subject}/versions").json() == [1]


def test_backward_incompatible_change_is_refused(registry: httpx.Client, subject: str) -> None:
    assert register(registry, subject, ORDER_V1).status_code == 200
    config = registry.put(f"/config/{subject}", json={"compatibility": "BACKWARD"})
    assert config.json() == {"compatibility": "BACKWARD"}

    refused = register(registry, subject, with_field(ORDER_V1, {"name": "sku", "type": "string"}))
    assert refused.status_code == 409, refused.text
    assert "sku" in refused.json()["message"]

    defaulted = with_field(ORDER_V1, {"name": "sku", "type": "string", "default": ""})
    assert register(registry, subject, defaulted).status_code == 200
    assert registry.get(f"/subjects/{subject}/versions").json() == [1, 2]
