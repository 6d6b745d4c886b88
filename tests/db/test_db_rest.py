"""The db scope over oca's HTTP API (upstream's paths and shapes), on the SQLite default."""

from __future__ import annotations

import json
from pathlib import Path

import pytest


@pytest.fixture
def api(oca_home: Path, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from oca.api.app import create_app
    from oca.scopes import db

    monkeypatch.delenv("OCA_API_TOKEN", raising=False)
    monkeypatch.delenv("OCA_QUEUE_URL", raising=False)
    sid = db.ensure_default().id
    with TestClient(create_app(), raise_server_exceptions=False) as c:
        yield c, f"/db/{sid}"


S = {"sync": "true"}


def test_rest_round_trip_and_refusals(api) -> None:
    c, base = api
    r = c.post(f"{base}/table", json={"name": "users", "columns": [
        {"name": "id", "datatype": "int"}, {"name": "name", "datatype": "text"}],
        "primary_key": ["id"]}, params=S)
    assert r.status_code == 200, r.text
    r = c.post(f"{base}/table/users/record",
               json={"field_values": [{"id": 1, "name": "ada"}, {"id": 2, "name": "bob"}]},
               params=S)
    assert r.status_code == 200 and r.json() == {"count": 2}, r.text
    r = c.get(f"{base}/table/users/record",
              params={**S, "dql_options": json.dumps({"where": {"id": {">": 1}},
                                                      "columns": ["name"]})})
    assert r.status_code == 200 and r.json() == [{"name": "bob"}], r.text
    r = c.put(f"{base}/table/users/record",
              json={"field_values": {"name": "x"}, "where": {"id": 1}, "ttl": None}, params=S)
    assert r.status_code == 200 and r.json() == {"count": 1}, r.text
    # options SQLite cannot honour, or that do not apply, are refused: never dropped
    for method, body in [
        ("POST", {"field_values": {"id": 3}, "ttl": 60}),
        ("POST", {"field_values": {"id": 3}, "where": {"id": 1}}),
        ("POST", {"field_values": {"id": 3}, "field_conditions": {"name": "a"}}),
        ("PUT", {"field_values": {"name": "y"}, "where": {"id": 1}, "timestamp": 5}),
        ("DELETE", {"where": {"id": 1}, "exist_condition": "if_not_exist"}),
        ("DELETE", {}),
    ]:
        r = c.request(method, f"{base}/table/users/record", json=body, params=S)
        assert r.status_code == 422, (method, body, r.text)
    r = c.post(f"{base}/table", json={"name": "x; DROP TABLE users", "columns": [
        {"name": "id", "datatype": "int"}]}, params=S)
    assert r.status_code == 422
    r = c.request("DELETE", f"{base}/table/users/record", json={"where": {"id": 2}}, params=S)
    assert r.status_code == 200 and r.json() == {"count": 1}
    r = c.get(f"{base}/table/users", params=S)
    assert r.json()["primary_key"] == ["id"]
    r = c.get(f"{base}/table/users/record", params=S)
    assert r.json() == [{"id": 1, "name": "x"}]
