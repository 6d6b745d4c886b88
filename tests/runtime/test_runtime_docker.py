"""The docker runtime against the real engine: recipes, readiness, failures, cleanup."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from runtime_helpers import labelled

pytestmark = pytest.mark.docker


def registry_bytes() -> bytes | None:
    p = Path(os.environ["OCA_HOME"]) / "registry.json"
    return p.read_bytes() if p.exists() else None


def add(oca, *args: str) -> dict:  # noqa: ANN001
    r = oca("--json", "service", "add", *args)
    assert r.code == 0, r.err
    return r.json()


def test_redis_and_postgres_from_recipes_ping_then_rm_leaves_nothing(oca, whales, suffix) -> None:  # noqa: ANN001
    from oca.net import postgres_ready, redis_ready, split_hostport

    made = []
    try:
        for recipe in ("redis", "postgres"):
            svc = add(oca, f"{recipe}-{suffix}", "--recipe", recipe)
            made.append(svc)
            assert svc["runtime"] == "docker"
            host, port = split_hostport(svc["locations"]["local"])
            assert host == "127.0.0.1"
            # The published port really speaks the protocol (checked here without oca).
            assert (redis_ready if recipe == "redis" else postgres_ready)(host, port)
            r = oca("--json", "service", "ping", svc["name"])
            assert r.code == 0, r.err
            found = labelled(whales, svc["id"])["containers"]
            assert len(found) == 1
            c = found[0]
            assert c.config.labels["oca.role"] == "backend"
            assert c.host_config.init is True
            assert c.host_config.restart_policy.name == "unless-stopped"
            assert "oca_network" in c.network_settings.networks
        pg_volume = f"oca-postgres-{suffix}-data"
        assert whales.volume.exists(pg_volume)
    finally:
        for svc in made:
            r = oca("service", "rm", svc["name"], "--purge")
            assert r.code == 0, r.err
    for svc in made:
        left = labelled(whales, svc["id"])
        assert left == {"containers": [], "networks": [], "volumes": []}
    assert not whales.volume.exists(f"oca-postgres-{suffix}-data")
    # The shared network carries no per-service label; nothing else is left for these ids.
    assert not whales.network.list(filters=[("label", f"oca.name=redis-{suffix}")])
    assert oca("--json", "service", "ls").json() == []


def test_engine_unreachable_exits_5_with_hint_and_leaves_registry(oca, suffix) -> None:  # noqa: ANN001
    r = oca("service", "add", f"keep-{suffix}", "--scope", "db", "-l", "127.0.0.1:6379")
    assert r.code == 0
    before = registry_bytes()
    env = {"DOCKER_HOST": "tcp://127.0.0.1:1"}
    t0 = time.monotonic()
    r = oca("service", "add", f"r-{suffix}", "--recipe", "redis", env=env)
    assert time.monotonic() - t0 < 10
    assert r.code == 5
    lines = r.err.strip().splitlines()
    assert lines == ["error: Docker engine unreachable at tcp://127.0.0.1:1",
                     "hint: run oca doctor"], r.err
    r = oca("--json", "service", "add", f"r-{suffix}", "--image", "oca/redis:7.0",
            "--port", "6379", "--scope", "db", env=env)
    assert r.code == 5
    assert r.json()["error"]["type"] == "engine_unavailable"
    assert registry_bytes() == before
    r = oca("doctor", env=env)
    assert r.code == 5
    assert "engine\tFAIL" in r.out and "DOCKER_HOST" in r.out


def test_killed_container_ping_down_then_start_brings_it_back(oca, whales, suffix) -> None:  # noqa: ANN001
    name = f"kill-{suffix}"
    svc = add(oca, name, "--recipe", "redis")
    try:
        [c] = labelled(whales, svc["id"])["containers"]
        whales.container.kill(c)
        r = oca("service", "ping", name)
        assert r.code == 5
        assert r.err.startswith(f"error: service {name} is down")
        assert f"oca service start {name}" in r.err
        t0 = time.monotonic()
        r = oca("service", "start", name)
        assert r.code == 0, r.err
        assert time.monotonic() - t0 < 15
        assert oca("service", "ping", name).code == 0
        # stop keeps the container (fast thanks to init=True), start reuses it
        t0 = time.monotonic()
        assert oca("service", "stop", name).code == 0
        assert time.monotonic() - t0 < 5
        [c2] = labelled(whales, svc["id"])["containers"]
        assert c2.id == c.id and not c2.state.running
        assert oca("service", "ping", name).code == 5
        assert oca("service", "start", name).code == 0
        assert oca("service", "ping", name).code == 0
        r = oca("service", "logs", name, "--tail", "5")
        assert r.code == 0 and "Ready to accept connections" in r.out
    finally:
        oca("service", "rm", name)
    assert labelled(whales, svc["id"])["containers"] == []


def test_any_image_with_port_and_a_failed_start_shows_the_logs(oca, whales, suffix) -> None:  # noqa: ANN001
    name = f"img-{suffix}"
    svc = add(oca, name, "--image", "oca/redis:7.0", "--port", "6379", "--scope", "db")
    try:
        assert svc["image"] == "oca/redis:7.0" and svc["runtime"] == "docker"
        assert oca("service", "ping", name).code == 0
    finally:
        assert oca("service", "rm", name).code == 0
    assert labelled(whales, svc["id"])["containers"] == []

    before = registry_bytes()
    # Nothing listens on 1234 in that image: readiness fails by its deadline, with the logs.
    r = oca("-v", "service", "add", f"bad-{suffix}", "--image", "oca/redis:7.0", "--port", "1234",
            "--scope", "db", "--meta", json.dumps({"ready_timeout": 2}))
    assert r.code == 5
    assert "was not ready within 2 s" in r.err
    assert "Ready to accept connections" in r.err  # the container's own last log lines
    assert registry_bytes() == before
    assert not whales.container.list(all=True, filters=[("label", f"oca.name=bad-{suffix}")])

    r = oca("service", "add", f"nope-{suffix}", "--image", f"oca/nope-{suffix}:1", "--port", "1",
            "--scope", "db")
    assert r.code == 3 and "image not found locally" in r.err
    r = oca("service", "add", f"noport-{suffix}", "--image", "oca/redis:7.0", "--scope", "db")
    assert r.code == 6 and "--port" in r.err
    assert registry_bytes() == before


def test_copy_oca_recipe_with_data_volume_and_purge(oca, whales, suffix) -> None:  # noqa: ANN001
    import httpx

    name = f"echo-{suffix}"
    svc = add(oca, name, "--recipe", "echo-http", "--runtime", "docker", "--scope", "db")
    base = f"http://{svc['locations']['local']}"
    try:
        assert httpx.get(base + "/info").json()["hits"] == 1
        assert oca("service", "stop", name).code == 0
        assert oca("service", "start", name).code == 0
        # the data volume survived the restart
        assert httpx.get(base + "/info").json()["hits"] == 2
    finally:
        assert oca("service", "rm", name).code == 0
    assert whales.volume.exists(f"oca-{name}-data")  # kept without --purge
    svc = add(oca, name, "--recipe", "echo-http", "--runtime", "docker", "--scope", "db")
    try:
        assert httpx.get(f"http://{svc['locations']['local']}/info").json()["hits"] == 3
    finally:
        assert oca("service", "rm", name, "--purge").code == 0
    assert not whales.volume.exists(f"oca-{name}-data")


def test_container_driver_is_started_once_and_shared(oca, whales, suffix, plugin_driver) -> None:  # noqa: ANN001
    plugin_driver("redisping-0.1.0")
    names = [f"rp1-{suffix}", f"rp2-{suffix}"]
    flt = [("label", "oca.role=driver"), ("label", "oca.driver=redisping-0.1.0")]
    try:
        svcs = [add(oca, n, "--recipe", "redis", "--driver", "redisping-0.1.0") for n in names]
        drivers = whales.container.list(filters=flt)
        assert len(drivers) == 1, drivers
        assert "oca_network" in drivers[0].network_settings.networks
        for svc in svcs:
            r = oca("--json", "service", "ping", svc["name"])
            assert r.code == 0, r.err
            # the driver reached the backend by its network alias, not the host's 127.0.0.1
            assert r.json() == {"status": "ok", "host": f"oca-{svc['id']}:6379"}
        assert [c.id for c in whales.container.list(filters=flt)] == [drivers[0].id]
        whales.container.kill(labelled(whales, svcs[0]["id"])["containers"][0])
        r = oca("service", "ping", names[0])
        assert r.code == 5, r.err
    finally:
        for n in names:
            oca("service", "rm", n)
        for c in whales.container.list(all=True, filters=flt):
            whales.container.remove(c, force=True)


def test_failing_driver_dockerfile_shows_build_lines(oca, whales, suffix, oca_home) -> None:  # noqa: ANN001
    folder = oca_home / "drivers" / f"broken{suffix}-0.1.0"
    folder.mkdir(parents=True)
    (folder / "metadata.json").write_text(json.dumps({
        "name": f"broken{suffix}", "version": "0.1.0", "app": "redis",
        "app_version_match": ">=0", "scope": "db"}))
    (folder / "Dockerfile").write_text(
        "ARG BASE_IMAGE=debian:bookworm-slim\nFROM ${BASE_IMAGE}\n"
        f"RUN echo broken-{suffix} && false\n")
    before = registry_bytes()
    r = oca("-v", "service", "add", f"b-{suffix}", "--recipe", "redis",
            "--driver", f"broken{suffix}-0.1.0")
    assert r.code == 5, r.err
    assert r.err.startswith(f"error: building driver broken{suffix}-0.1.0 failed")
    assert f"broken-{suffix}" in r.err and "non-zero code" in r.err
    assert registry_bytes() == before
    assert not whales.container.list(all=True, filters=[("label", f"oca.name=b-{suffix}")])


def test_up_down_verifies_and_restarts(oca, whales) -> None:  # noqa: ANN001
    r = oca("--json", "up", "redis")
    assert r.code == 0, r.err
    [row] = r.json()
    assert row["status"] == "healthy" and row["recipe"] == "redis"
    try:
        r = oca("--json", "down")
        assert r.code == 0 and r.json()[0]["status"] == "stopped"
        assert oca("service", "ping", "redis").code == 5
        r = oca("--json", "up", "redis")
        assert r.code == 0 and r.json()[0]["status"] == "healthy"
        assert r.json()[0]["id"] == row["id"]  # the same service, started again
    finally:
        r = oca("--json", "down", "--rm", "--purge")
    assert r.code == 0 and r.json()[0]["status"] == "removed"
    assert labelled(whales, row["id"])["containers"] == []
    assert oca("--json", "service", "ls").json() == []
    r = oca("up", "no-such-recipe")
    assert r.code == 3 and "unknown recipe" in r.out + r.err


def test_doctor_reports_each_check(oca) -> None:  # noqa: ANN001
    r = oca("--json", "doctor")
    assert r.code == 0, r.out
    checks = {c["check"]: c for c in r.json()}
    assert {"engine", "compose", "base image", "ffmpeg", "free ports"} <= set(checks)
    assert checks["engine"]["ok"] and checks["base image"]["ok"]


def test_python_on_whales_path_without_the_engine_api(oca, whales, suffix) -> None:  # noqa: ANN001
    """OCA_ENGINE_API=0 (as with TLS/ssh engines): every call goes through python-on-whales."""
    env = {"OCA_ENGINE_API": "0"}
    name = f"pow-{suffix}"
    r = oca("--json", "service", "add", name, "--recipe", "postgres", env=env)
    assert r.code == 0, r.err
    sid = r.json()["id"]
    try:
        [c] = labelled(whales, sid)["containers"]
        assert c.host_config.init is True and "oca_network" in c.network_settings.networks
        assert oca("service", "stop", name, env=env).code == 0
        assert oca("service", "start", name, env=env).code == 0
        assert oca("service", "ping", name, env=env).code == 0
    finally:
        assert oca("service", "rm", name, "--purge", env=env).code == 0
    assert labelled(whales, sid)["containers"] == []
    assert not whales.volume.exists(f"oca-{name}-data")


def test_recipe_image_is_labelled_with_its_input_hash_and_reused(oca, whales, tmp_path) -> None:  # noqa: ANN001
    from oca.images import recipe_hash, recipe_raw
    from oca.recipes import get_recipe

    r = oca("--json", "image", "build", "redis")
    assert r.code == 0, r.err
    tag = r.json()["image"]
    recipe = get_recipe("redis")
    img = whales.image.inspect(tag)
    assert img.config.labels["oca.recipe.hash"] == recipe_hash(recipe.folder,
                                                              recipe_raw(recipe.folder))
    t0 = time.monotonic()
    assert oca("image", "build", "redis").code == 0
    assert time.monotonic() - t0 < 10
    assert whales.image.inspect(tag).id == img.id  # not rebuilt
    r = oca("--json", "image", "ls")
    assert r.code == 0 and tag in {row["image"] for row in r.json()}
    # generated folders do not change the hash; a Dockerfile change does
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM scratch\n")
    h1 = recipe_hash(ctx, {})
    (ctx / "wheelhouse").mkdir()
    (ctx / "wheelhouse" / "x.whl").write_text("x")
    assert recipe_hash(ctx, {}) == h1
    (ctx / "Dockerfile").write_text("FROM scratch\nLABEL a=b\n")
    assert recipe_hash(ctx, {}) != h1
    assert recipe_hash(ctx, {"copy_oca": True}) != recipe_hash(ctx, {})


def test_engine_script_is_idempotent_on_a_set_up_machine(whales) -> None:  # noqa: ANN001
    import subprocess

    root = Path(__file__).resolve().parents[2]
    for _ in range(2):
        t0 = time.monotonic()
        p = subprocess.run([str(root / "scripts" / "engine.sh")], capture_output=True, text=True,
                           timeout=120)
        assert p.returncode == 0, p.stderr
        assert "engine: ready" in p.stderr and "installing" not in p.stderr
        assert "starting dockerd" not in p.stderr and "building base image" not in p.stderr
        assert time.monotonic() - t0 < 20
