"""The native drivers pass the very suites `oca driver test` runs against plugins."""

from __future__ import annotations

import shutil

import pytest


def _service(oca, scope: str) -> str:
    r = oca("--json", "service", "ls", "--scope", scope)
    assert r.code == 0, r.err
    return r.json()[0]["name"]


def test_sqlite_passes_the_db_suite(oca) -> None:
    assert oca("db", "tables").code == 0  # registers the embedded default (SQLite)
    name = _service(oca, "db")
    for extra in ([], ["--rest"]):
        r = oca("--json", "driver", "test", "sqlite", "--service", name, *extra)
        assert r.code == 0, r.out + r.err
        assert r.json()["passed"] and len(r.json()["checks"]) == 14


@pytest.mark.docker
def test_postgres_passes_the_db_suite(oca, docker_engine, suffix) -> None:
    name = f"pg-{suffix}"
    r = oca("service", "add", name, "--recipe", "postgres")
    assert r.code == 0, r.err
    try:
        r = oca("--json", "driver", "test", "postgres", "--service", name)
        assert r.code == 0, r.out + r.err
        assert r.json()["passed"]
    finally:
        oca("service", "rm", name, "--purge")


def test_the_native_ai_driver_passes_the_ai_suite(oca) -> None:
    pytest.importorskip("onnxruntime")
    r = oca("ai", "models")  # starts the embedded local model server
    assert r.code == 0, r.err
    name = _service(oca, "ai")
    try:
        r = oca("--json", "driver", "test", "oca-ai-driver", "--service", name)
        assert r.code == 0, r.out + r.err
        assert r.json()["passed"]
    finally:
        oca("service", "rm", name, "--purge")


def test_the_native_ffmpeg_driver_passes_the_media_suite(oca) -> None:
    if shutil.which("ffmpeg") is None:
        pytest.skip("no ffmpeg on this machine")
    r = oca("media", "ls")  # starts the embedded media backend (local ffmpeg)
    assert r.code == 0, r.err
    name = _service(oca, "media")
    try:
        for extra in ([], ["--rest"]):
            r = oca("--json", "driver", "test", "ffmpeg", "--service", name, *extra)
            assert r.code == 0, r.out + r.err
            assert r.json()["passed"] and r.json()["untested"] == ["download_output"]
    finally:
        oca("service", "rm", name, "--purge")
