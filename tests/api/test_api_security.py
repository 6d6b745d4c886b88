"""Security of `oca serve`: loopback by default, a token for anything else, no secrets out."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from oca.api.app import create_app
from tests.api.conftest import ROOT, free_port, wait_until


def test_token_guards_every_route_but_root(echo_id: str) -> None:
    with TestClient(create_app(token="s3cret-token")) as c:
        assert c.get("/").status_code == 200
        for path in ("/service/", f"/service/{echo_id}/heartbeat", "/driver/", "/docs",
                     "/openapi.json", "/job/x", f"/db/{echo_id}/table"):
            r = c.get(path)
            assert r.status_code == 401, path
            assert r.json()["error"]["type"] == "unauthorized"
            assert r.headers["www-authenticate"] == "Bearer"
        assert c.get("/service/", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert c.get("/service/", headers={"Authorization": "Basic s3cret-token"}
                     ).status_code == 401
        ok = c.get("/service/", headers={"Authorization": "Bearer s3cret-token"})
        assert ok.status_code == 200 and ok.json()[0]["id"] == echo_id


def test_secrets_in_meta_are_redacted(client, echo_id: str) -> None:  # noqa: ANN001
    listed = client.get("/service/").text
    one = client.get(f"/service/{echo_id}").json()
    assert "hunter2" not in listed and one["meta"] == {"password": "***", "user": "me"}
    # the driver still gets the real value
    from oca.registry import Registry

    assert Registry().get(echo_id).meta["password"] == "hunter2"


def test_non_loopback_host_needs_a_token(oca, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.delenv("OCA_API_TOKEN", raising=False)
    r = oca("serve", "--host", "0.0.0.0", "--port", str(free_port()),
            env={"OCA_API_TOKEN": ""})
    assert r.code == 6
    assert r.err.splitlines() == ["error: refusing to listen on 0.0.0.0 without a token",
                                  "hint: pass --token TOKEN (or set OCA_API_TOKEN), "
                                  "or use --host 127.0.0.1"]


@pytest.mark.slow
def test_served_with_token_from_env(spawn, echo_id: str) -> None:  # noqa: ANN001
    port = free_port()
    p = spawn("serve", "--host", "0.0.0.0", "--port", str(port), "--no-worker",
              env={"OCA_API_TOKEN": "tok-123"})
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        assert p.p.poll() is None, p.output()
        try:
            return httpx.get(base + "/", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(up, 30, "oca serve")
    assert httpx.get(base + "/service/").status_code == 401
    r = httpx.get(base + "/service/", headers={"Authorization": "Bearer tok-123"})
    assert r.status_code == 200 and "hunter2" not in r.text
    hb = httpx.get(f"{base}/service/{echo_id}/heartbeat",
                   headers={"Authorization": "Bearer tok-123"})
    assert hb.status_code == 200
    p.kill()
    log = p.output()
    assert "tok-123" not in log and "hunter2" not in log


def test_launch_is_serve(oca, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.delenv("OCA_API_TOKEN", raising=False)
    help_ = oca("launch", "--help")
    assert help_.code == 0 and "[default: 8000]" in help_.out
    r = oca("launch", "--host", "10.1.2.3", env={"OCA_API_TOKEN": ""})
    assert r.code == 6 and "without a token" in r.err


def test_post_driver_installs_only_with_a_token(oca_home: Path, tmp_path: Path) -> None:
    """POST /driver/ with a location does `oca driver add`, which runs that code: token only."""
    import json as _json
    import shutil

    src = tmp_path / "mydb-1.0.0"
    shutil.copytree(ROOT / "drivers" / "echo-db-0.1.0", src)
    meta = _json.loads((src / "metadata.json").read_text())
    meta.update(name="mydb", version="1.0.0", app="mydb")
    (src / "metadata.json").write_text(_json.dumps(meta))
    body = {"name": "mydb", "source_type": "plugin", "location": str(src)}

    with TestClient(create_app()) as c:
        r = c.post("/driver/", json=body)
        assert r.status_code == 403
        assert r.json()["error"]["type"] == "forbidden"
        assert c.get("/driver/mydb-1.0.0").status_code == 404
    assert not (oca_home / "drivers" / "mydb-1.0.0").exists()

    auth = {"Authorization": "Bearer t0ken"}
    with TestClient(create_app(token="t0ken")) as c:
        r = c.post("/driver/", json=body, headers=auth)
        assert r.status_code == 200, r.text
        assert r.json()["name"] == "mydb" and r.json()["source_type"] == "plugin"
        assert c.get("/driver/mydb-1.0.0", headers=auth).json()["app"] == "mydb"
        # Without a location it stays upstream's lookup.
        assert c.post("/driver/", json={"name": "mydb"}, headers=auth).json()["version"] == "1.0.0"
