"""CLI conventions: exit codes, one-line errors, JSON shapes, nothing written on bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def registry_bytes() -> bytes | None:
    p = Path(os.environ["OCA_HOME"]) / "registry.json"
    return p.read_bytes() if p.exists() else None


def test_unknown_service_exits_3(oca) -> None:  # noqa: ANN001
    for args in (["service", "show", "nope"], ["service", "rm", "nope"],
                 ["service", "update", "nope", "--description", "x"], ["service", "ping", "nope"]):
        r = oca(*args)
        assert r.code == 3, args
        assert r.err.startswith("error: service not found: nope"), r.err
        assert "Traceback" not in r.err


def test_malformed_meta_exits_6_naming_the_value_and_writes_nothing(oca) -> None:  # noqa: ANN001
    r = oca("service", "add", "x", "--scope", "db", "-l", "127.0.0.1:5", "--meta", "{bad json")
    assert r.code == 6
    assert "--meta" in r.err and "{bad json" in r.err
    r = oca("service", "add", "x", "--scope", "db", "-l", "127.0.0.1:5", "--meta", "[1, 2]")
    assert r.code == 6 and "JSON object" in r.err
    assert registry_bytes() is None


def test_malformed_location_exits_6_naming_the_value(oca) -> None:  # noqa: ANN001
    for bad in ("nohost", "h:99999", "a=b:c", "=h:1", "h:1;rm -rf /"):
        r = oca("service", "add", "x", "--scope", "db", "--location", bad)
        assert r.code == 6, (bad, r.err)
        assert repr(bad) in r.err or bad in r.err
    assert registry_bytes() is None


def test_bad_names_and_scopes_exit_6(oca) -> None:  # noqa: ANN001
    r = oca("service", "add", "bad name;", "--scope", "db", "-l", "h:1")
    assert r.code == 6 and "invalid name" in r.err
    r = oca("service", "add", "ok", "--scope", "video", "-l", "h:1")
    assert r.code == 6 and "scope" in r.err
    assert registry_bytes() is None


def test_json_round_trip_and_global_flags_after_the_command(oca) -> None:  # noqa: ANN001
    r = oca("service", "add", "s1", "--app", "echo", "-l", "n1=127.0.0.1:9", "-l", "127.0.0.2:9",
            "--meta", '{"password": "hunter2", "dbname": "x"}', "--json")
    assert r.code == 0, r.err
    svc = r.json()
    assert svc["scope"] == "db" and svc["driver"] == "echo-db-0.1.0"
    assert svc["locations"] == {"n1": "127.0.0.1:9", "node2": "127.0.0.2:9"}
    assert svc["meta"] == {"password": "***", "dbname": "x"}
    listed = oca("service", "ls", "--json").json()
    assert [s["id"] for s in listed] == [svc["id"]]
    assert "hunter2" not in oca("--json", "service", "ls").out
    shown = oca("--json", "service", "show", svc["id"]).json()
    assert shown["name"] == "s1"
    r = oca("service", "update", "s1", "--name", "s2", "--timeout", "5", "--json")
    assert r.json()["name"] == "s2" and r.json()["timeout"] == 5
    assert oca("service", "ping", "s2", "--json").json()["status"] == "ok"
    assert oca("service", "rm", "s2").code == 0
    assert oca("service", "ls", "--json").json() == []


def test_json_error_shape_on_stdout(oca) -> None:  # noqa: ANN001
    r = oca("--json", "service", "show", "ghost")
    assert r.code == 3
    assert json.loads(r.out) == {"error": {"type": "not_found",
                                           "message": "service not found: ghost",
                                           "hint": "list services with `oca service ls`"}}


def test_usage_error_exits_2(oca) -> None:  # noqa: ANN001
    r = oca("service", "add")
    assert r.code == 2
    r = oca("service", "frobnicate")
    assert r.code == 2


def test_home_option_overrides_oca_home(oca, tmp_path: Path) -> None:  # noqa: ANN001
    other = tmp_path / "elsewhere"
    assert oca("--home", str(other), "service", "add", "h1", "--scope", "db", "-l", "h:1").code == 0
    assert (other / "registry.json").exists()
    assert registry_bytes() is None
    assert oca("service", "ls", "--home", str(other), "--json").json()[0]["name"] == "h1"


def test_plain_output_when_piped_is_tab_separated(oca) -> None:  # noqa: ANN001
    oca("service", "add", "p1", "--scope", "db", "-l", "h:1")
    lines = oca("service", "ls").out.splitlines()
    assert lines[0].split("\t")[:3] == ["id", "name", "scope"]
    assert lines[1].split("\t")[1:3] == ["p1", "db"]


def test_cli_reference_has_not_drifted() -> None:
    p = subprocess.run([sys.executable, "-m", "oca.cli.docs", "--check"], cwd=ROOT,
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr


def test_help_does_not_import_heavy_modules() -> None:
    code = ("import sys; sys.argv=['oca','--help']\n"
            "from oca.cli.app import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('fastapi','httpx','python_on_whales','pydantic','torch',"
            "'onnxruntime','psycopg','numpy','PIL','huey','uvicorn','cassandra','tinydb') "
            "if m in sys.modules]\n"
            "print('HEAVY=' + ','.join(heavy))")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert p.stdout.splitlines()[-1] == "HEAVY=", p.stdout


def test_rm_purge_deletes_an_embedded_file_only_under_oca_home(oca, oca_home: Path,
                                                               tmp_path: Path) -> None:  # noqa: ANN001
    inside = oca_home / "data.sqlite"
    outside = tmp_path / "keep.sqlite"
    for f in (inside, outside):
        f.write_bytes(b"x")
    from oca.models import ServiceBase
    from oca.registry import Registry

    reg = Registry()
    reg.add(ServiceBase(name="in", scope="db", runtime="embedded", locations={"path": str(inside)}))
    reg.add(ServiceBase(name="out", scope="db", runtime="embedded",
                        locations={"path": str(outside)}))
    assert oca("service", "rm", "in", "--purge").code == 0
    assert oca("service", "rm", "out", "--purge").code == 0
    assert not inside.exists()
    assert outside.exists()
