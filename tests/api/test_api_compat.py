"""Compatibility with upstream oneContainer-API v0.2.0: paths, parameters, payloads, shapes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

SPEC = Path("/work/shared/reference/onecontainer-api.v1.json")
ROOT = Path(__file__).resolve().parents[2]
UPSTREAM = ROOT / "tests" / "api" / "data" / "onecontainer-api.v1.json"

# Upstream's reference payloads (upstream-api.md §11 and its demo pipeline, §7.4).
SERVICE_CREATE = {"name": "oca_mers-ffmpeg", "description": "Builtin backend service",
                  "version": "v1", "app": "mers-ffmpeg", "app_version": "0.1.0",
                  "locations": {"node1": "10.5.0.1:5552"}, "meta": {}}
DRIVER_CREATE = {"name": "dlrs-torchub-driver", "source_type": "native"}
AI_MODEL_META = {"path": "pytorch/vision:v0.6.0", "name": "resnet18",
                 "kwargs": {"pretrained": True}}
TABLE = {"name": "users", "columns": [{"name": "id", "datatype": "int"},
                                      {"name": "name", "datatype": "text"}],
         "primary_key": ["id"]}
DML = {"field_values": {"name": "gorozco"}, "where": {"id": 1}}
PIPELINE = {
    "input_file": {"source": "/tmp/in.mp4", "params": {"ss": 15, "t": 10}},
    "outputs": [{"container": "mkv", "channels": [
        {"stream_type": "video", "codec": "libx264",
         "codec_params": {"preset": "fast", "crf": "23"},
         "filters": {"scale": {"w": "iw/2", "h": -1}, "hue": {"s": 0}}}]}],
    "ttl": 300,
}
TICKET_KEYS = {"id", "status", "queue", "position"}


def upstream_spec() -> dict:
    path = UPSTREAM if UPSTREAM.exists() else SPEC
    return json.loads(path.read_text())


def test_every_upstream_operation_exists_with_its_parameters(client) -> None:  # noqa: ANN001
    ours = client.get("/openapi.json").json()
    up = upstream_spec()
    assert len([1 for ms in up["paths"].values() for _ in ms]) == 27
    for path, methods in up["paths"].items():
        assert path in ours["paths"], f"missing path {path}"
        for method, op in methods.items():
            mine = ours["paths"][path].get(method)
            assert mine is not None, f"missing {method.upper()} {path}"
            names = {p["name"] for p in mine.get("parameters", [])}
            for p in op.get("parameters", []):
                assert p["name"] in names, f"{method.upper()} {path} lacks parameter {p['name']}"
                theirs_default = p.get("schema", {}).get("default")
                mine_p = next(x for x in mine["parameters"] if x["name"] == p["name"])
                if theirs_default is not None:
                    assert mine_p["schema"].get("default") == theirs_default, p["name"]
            if "requestBody" in op:
                assert "requestBody" in mine, f"{method.upper()} {path} takes no body"
                assert set(op["requestBody"]["content"]) <= set(mine["requestBody"]["content"])
    predict = ours["paths"]["/ai/{service_id}/predict"]["post"]["requestBody"]["content"]
    ref = predict["multipart/form-data"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert "image_file" in ours["components"]["schemas"][ref]["required"]


def test_root(client) -> None:  # noqa: ANN001
    r = client.get("/")
    assert r.status_code == 200 and r.json() == {"msg": "system onecontainer api"}


def test_service_crud_with_upstream_shapes(client, echo_id: str) -> None:  # noqa: ANN001
    body = {**SERVICE_CREATE, "name": "svc2", "app": "echo", "scope": "db"}
    # curl -d @file sends a form content type: the JSON body must still be read
    r = client.post("/service/", content=json.dumps(body),
                    headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200, r.text
    sid = r.json()
    assert isinstance(sid, str) and re.fullmatch(r"([bcdfghklmnpqrstvwxyz][aeiou]){4}", sid)
    got = client.get(f"/service/{sid}").json()
    assert list(got)[:9] == ["description", "driver", "name", "version", "app", "app_version",
                             "locations", "meta", "id"]
    assert got["driver"] == "echo-db-0.1.0"  # auto-assigned by matching, as upstream
    assert {k: got[k] for k in body} == body
    listed = client.get("/service/").json()
    assert [s["id"] for s in listed] == [echo_id, sid]
    assert client.get("/service/?skip=1&limit=1").json() == [got]
    assert client.put(f"/service/{sid}", json={"name": "svc3"}).json() is True
    after = client.get(f"/service/{sid}").json()
    assert after["name"] == "svc3" and after["app"] == "echo"  # partial update
    assert client.delete(f"/service/{sid}").json() is True
    r = client.get(f"/service/{sid}")
    assert r.status_code == 404
    assert r.json() == {"endpoint": f"/service/{sid}", "status": f"service not found: {sid}",
                        "error": {"type": "not_found", "message": f"service not found: {sid}",
                                  "hint": "list services with `oca service ls`"}}


def test_upstream_service_create_payload_is_accepted(client) -> None:  # noqa: ANN001
    """Upstream's exact payload: accepted when a driver serves its app, else an honest 422
    naming the problem (upstream stored services it could never call)."""
    from oca import discovery

    r = client.post("/service/", json=SERVICE_CREATE)
    if discovery.matching_drivers("mers-ffmpeg", "0.1.0"):
        assert r.status_code == 200, r.text
        assert client.get(f"/service/{r.json()}").json()["scope"] == "media"
    else:
        assert r.status_code == 422
        assert "scope" in r.json()["error"]["message"]
    r = client.post("/service/", json={**SERVICE_CREATE, "scope": "media"})
    assert r.status_code == 200, r.text


def test_honest_status_codes(client, echo_id: str) -> None:  # noqa: ANN001
    clash = client.post("/service/", json={**SERVICE_CREATE, "name": "echo", "app": "echo"})
    assert clash.status_code == 409 and clash.json()["error"]["type"] == "conflict"
    bad = client.post("/service/", json={"version": "v1"})
    assert bad.status_code == 422 and bad.json()["status"] == "invalid name: Field required"
    assert client.post("/service/", content=b"{oops").json()["error"]["message"].startswith(
        "invalid JSON body")
    assert client.put("/service/nosuch", json={"name": "x"}).status_code == 404
    assert client.delete("/service/nosuch").status_code == 404
    assert client.get("/driver/nosuch-1.0").status_code == 404
    assert client.get(f"/db/{echo_id}/table?sync=maybe").status_code == 422
    assert client.get(f"/ai/{echo_id}/usage").status_code == 422  # a db service
    assert client.get("/job/nosuch").status_code == 404
    assert client.get("/nowhere").json()["error"]["type"] == "not_found"
    for r in (clash, bad):
        assert set(r.json()) == {"endpoint", "status", "error"}
        assert set(r.json()["error"]) == {"type", "message", "hint"}


def test_drivers(client, echo_id: str) -> None:  # noqa: ANN001
    drivers = client.get("/driver/").json()
    names = [f"{d['name']}-{d['version']}" for d in drivers]
    assert "echo-db-0.1.0" in names
    one = client.get("/driver/echo-db-0.1.0").json()
    for k in ("name", "version", "app", "app_version_match", "scope", "source_type",
              "location", "meta"):
        assert k in one
    assert [d["name"] for d in client.get(f"/service/{echo_id}/driver").json()] == ["echo-db"]
    # upstream's DriverCreate: body accepted; the torch-hub driver does not exist here
    r = client.post(f"/service/{echo_id}/driver", json=DRIVER_CREATE)
    assert r.status_code == 404 and "dlrs-torchub-driver" in r.json()["status"]
    r = client.post(f"/service/{echo_id}/driver", json={"name": "echo-db"})
    assert r.status_code == 200 and r.json()["name"] == "echo-db"
    assert client.get(f"/service/{echo_id}").json()["driver"] == "echo-db-0.1.0"
    r = client.post(f"/service/{echo_id}/driver", json={"name": "echo-ai"})
    assert r.status_code == 422 and "scope ai, not db" in r.json()["status"]
    assert client.get(f"/service/{echo_id}").json()["driver"] == "echo-db-0.1.0"
    assert client.post("/driver/", json={"name": "echo-db"}).json()["version"] == "0.1.0"


def test_db_payloads_sync(client, echo_id: str) -> None:  # noqa: ANN001
    assert client.post(f"/db/{echo_id}/table?sync=true", json=TABLE).status_code == 200
    tables = client.get(f"/db/{echo_id}/table?sync=true").json()
    assert [t["name"] for t in tables] == ["users"]
    desc = client.get(f"/db/{echo_id}/table/users?sync=true").json()
    assert desc["primary_key"] == ["id"]
    rec = {"field_values": {"id": 1, "name": "ana"}}
    assert client.post(f"/db/{echo_id}/table/users/record?sync=true", json=rec).status_code == 200
    r = client.put(f"/db/{echo_id}/table/users/record?sync=true", json=DML)
    assert r.status_code == 200, r.text
    rows = client.get(f"/db/{echo_id}/table/users/record",
                      params={"sync": "true", "dql_options": json.dumps({"where": {"id": 1}})})
    assert rows.json() == [{"id": 1, "name": "gorozco"}]
    bad = client.get(f"/db/{echo_id}/table/users/record?sync=true&dql_options={{nope")
    assert bad.status_code == 422 and "dql_options" in bad.json()["status"]
    # DELETE carries a JSON body, as upstream
    r = client.request("DELETE", f"/db/{echo_id}/table/users/record?sync=true",
                       content=json.dumps({"where": {"id": 1}}))
    assert r.status_code == 200, r.text
    assert client.get(f"/db/{echo_id}/table/users/record?sync=true").json() == []


def test_db_async_is_the_default(client, echo_id: str) -> None:  # noqa: ANN001
    from tests.api.conftest import wait_until

    t = client.post(f"/db/{echo_id}/table", json=TABLE).json()
    assert set(t) == TICKET_KEYS and t["status"] == "queued" and t["queue"] == "echo"
    job = wait_until(lambda: (j := client.get(f"/job/{t['id']}").json())["status"] in
                     ("finished", "failed") and j, 10, "the job")
    assert job["status"] == "finished", job
    assert {"status", "queue", "position", "result"} <= set(job)
    assert job["position"] is None and job["result"]["name"] == "users"


@pytest.mark.parametrize("scope", ["ai", "media"])
def test_ai_and_media_payloads_are_accepted(client, scope_service, scope: str) -> None:  # noqa: ANN001
    """Upstream's model meta, image upload, probe and pipeline bodies pass validation and
    become jobs (the backend is not running: enqueueing does not need it)."""
    sid = scope_service(scope)
    if scope == "ai":
        calls = [client.post(f"/ai/{sid}/serve", json=AI_MODEL_META),
                 client.post(f"/ai/{sid}/predict",
                             files={"image_file": ("cat.jpg", b"\xff\xd8fake", "image/jpeg")}),
                 client.get(f"/ai/{sid}/usage")]
        missing = client.post(f"/ai/{sid}/predict")
        assert missing.status_code == 422 and "image_file" in missing.json()["status"]
        assert client.post(f"/ai/{sid}/serve").status_code == 422  # no body
    else:
        calls = [client.post(f"/media/{sid}/probe", json={"source": "/tmp/in.mp4"}),
                 client.post(f"/media/{sid}/pipeline", json=PIPELINE),
                 client.get(f"/media/{sid}/pipeline/abcdefghij"),
                 client.delete(f"/media/{sid}/pipeline/abcdefghij")]
        r = client.post(f"/media/{sid}/probe?sync=true", json={})
        assert r.status_code == 422 and r.json()["status"] == "invalid source: Field required"
        r = client.post(f"/media/{sid}/pipeline?sync=true", json={"outputs": []})
        assert r.status_code == 422 and "input_file" in r.json()["status"]
    for r in calls:
        assert r.status_code == 200, r.text
        assert set(r.json()) == TICKET_KEYS
