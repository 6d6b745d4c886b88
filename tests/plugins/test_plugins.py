"""Plugin drivers: one discovery mechanism, scaffolds, add/rm/test, broken plugins, REST factory.

Everything runs for real: the CLI in a subprocess, python plugins imported from files,
entry points from a dist-info folder on PYTHONPATH, container plugins built and run by the
Docker engine (the Node.js one from Debian's packages).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NODE_DRIVER = Path(__file__).resolve().parent / "node_ai_driver"


def scaffold(oca, tmp_path: Path, name: str, scope: str, kind: str = "python",
             app: str | None = None) -> Path:
    args = ["driver", "new", name, "--scope", scope, "--dir", str(tmp_path), "--kind", kind]
    r = oca(*args, *(["--app", app] if app else []))
    assert r.code == 0, r.err
    path = Path(r.out.strip())
    assert path == tmp_path / name
    return path


def registered(oca_home: Path) -> list[str]:
    root = oca_home / "drivers"
    return sorted(p.name for p in root.iterdir() if p.name != ".lock") if root.is_dir() else []


# --- native echo drivers and the suites ------------------------------------------------------

@pytest.mark.parametrize("scope", ["ai", "db", "media"])
def test_native_echo_driver_passes_its_scope_suite_directly_and_over_rest(oca, scope: str) -> None:
    r = oca("--json", "driver", "test", f"echo-{scope}")
    assert r.code == 0, r.out + r.err
    report = r.json()
    assert report["passed"] and report["via"] == "in-process"
    ops = {c["operation"] for c in report["checks"]}
    assert "ping" in ops and len(report["checks"]) >= 8
    r = oca("--json", "driver", "test", f"echo-{scope}", "--rest")
    assert r.code == 0, r.out + r.err
    assert r.json()["via"].startswith("rest")


def test_echo_driver_code_is_the_template() -> None:
    """The native echo drivers are what `oca driver new` scaffolds: one file, linked."""
    for scope in ("ai", "db", "media"):
        assert (ROOT / f"drivers/echo-{scope}-0.1.0/driver.py").resolve() == \
            (ROOT / f"templates/{scope}/driver.py").resolve()


def test_show_lists_operations_and_capabilities(oca) -> None:
    r = oca("--json", "driver", "show", "echo-db")
    assert r.code == 0, r.err
    info = r.json()
    ops = {op["name"]: op for op in info["operations"]}
    assert ops["select"]["path"] == "/table/{table}/record"
    assert "dql" in ops["select"]["params"] and ops["select"]["options"]
    assert "types" in info["capabilities"]
    r = oca("driver", "show", "echo-ai")
    assert r.code == 0 and "predict" in r.out and "/predict" in r.out
    r = oca("driver", "show", "no-such-driver")
    assert r.code == 3 and r.err.startswith("error: driver not found")


# --- scaffolds -----------------------------------------------------------------------------

@pytest.mark.parametrize("scope", ["ai", "db", "media"])
def test_python_scaffold_runs_and_passes_unchanged(oca, oca_home, tmp_path, scope) -> None:
    path = scaffold(oca, tmp_path, f"my-{scope}", scope)
    assert {p.name for p in path.iterdir()} == {"driver.py", "metadata.json", "README.md"}
    assert "What to fill in" in (path / "README.md").read_text()
    meta = json.loads((path / "metadata.json").read_text())
    assert meta["entrypoint"] == f"driver.py:My{scope.capitalize()}Driver"
    r = oca("driver", "add", str(path))
    assert r.code == 0, r.err
    assert r.out.strip() == f"my-{scope}-0.1.0"
    assert registered(oca_home) == [f"my-{scope}-0.1.0"]
    r = oca("driver", "test", f"my-{scope}")
    assert r.code == 0, r.err
    assert "contract checks passed" in r.out


def test_scaffold_refuses_bad_arguments(oca, tmp_path) -> None:
    r = oca("driver", "new", "x", "--scope", "video", "--dir", str(tmp_path))
    assert r.code == 6 and "unknown scope 'video'" in r.err
    r = oca("driver", "new", "bad/name", "--scope", "db", "--dir", str(tmp_path))
    assert r.code == 6 and "invalid driver name" in r.err
    scaffold(oca, tmp_path, "twice", "db")
    r = oca("driver", "new", "twice", "--scope", "db", "--dir", str(tmp_path))
    assert r.code == 4 and "already exists" in r.err


def test_service_matching_a_plugin_uses_it(oca, oca_home, tmp_path) -> None:
    path = scaffold(oca, tmp_path, "kv-driver", "db", app="kvstore")
    meta = json.loads((path / "metadata.json").read_text())
    meta["app_version_match"] = ">=2,<3"
    (path / "metadata.json").write_text(json.dumps(meta))
    assert oca("driver", "add", str(path)).code == 0
    r = oca("--json", "service", "add", "kv", "--scope", "db", "--app", "kvstore",
            "--app-version", "2.5", "--location", "127.0.0.1:9")
    assert r.code == 0, r.err
    assert r.json()["driver"] == "kv-driver-0.1.0"
    r = oca("--json", "service", "add", "kv1", "--scope", "db", "--app", "kvstore",
            "--app-version", "1.0", "--location", "127.0.0.1:9")
    assert r.code == 0 and r.json()["driver"] is None  # 1.0 does not match >=2,<3
    # kv1 had no driver; a new driver version matching 1.0 is given to it when added
    meta["version"], meta["app_version_match"] = "0.2.0", ">=1,<2"
    (path / "metadata.json").write_text(json.dumps(meta))
    assert oca("driver", "add", str(path)).code == 0
    assert oca("--json", "service", "show", "kv1").json()["driver"] == "kv-driver-0.2.0"
    assert oca("--json", "service", "show", "kv").json()["driver"] == "kv-driver-0.1.0"
    assert oca("driver", "rm", "kv-driver-0.2.0", "--force").code == 0
    r = oca("db", "create-table", "t", "--column", "id:int", "--service", "kv")
    assert r.code == 0, r.err  # the echo scaffold answers through the one call path
    # removing a driver in use needs --force; native drivers cannot be removed
    r = oca("driver", "rm", "kv-driver")
    assert r.code == 4 and "used by service(s): kv" in r.err
    assert oca("driver", "rm", "kv-driver", "--force").code == 0
    assert registered(oca_home) == []
    r = oca("driver", "rm", "echo-db")
    assert r.code == 6 and "native driver" in r.err


def test_add_from_a_git_url(oca, oca_home, tmp_path) -> None:
    path = scaffold(oca, tmp_path, "git-driver", "media")
    git = ["git", "-C", str(path), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git[:3], "init", "-q"], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "driver"], check=True)
    r = oca("driver", "add", f"file://{path}")
    assert r.code == 0, r.err
    assert registered(oca_home) == ["git-driver-0.1.0"]
    assert not (oca_home / "drivers" / "git-driver-0.1.0" / ".git").exists()
    r = oca("driver", "add", f"file://{tmp_path}/nowhere")
    assert r.code == 6 and "cannot clone" in r.err


# --- broken plugins: clear errors, nothing registered ---------------------------------------

def test_missing_metadata_field(oca, oca_home, tmp_path) -> None:
    path = scaffold(oca, tmp_path, "nofield", "db")
    meta = json.loads((path / "metadata.json").read_text())
    del meta["app"]
    (path / "metadata.json").write_text(json.dumps(meta))
    r = oca("driver", "add", str(path))
    assert r.code == 6
    assert "field 'app': missing" in r.err and "metadata.json" in r.err
    assert registered(oca_home) == []
    r = oca("--json", "driver", "add", str(path))
    assert r.json()["error"]["type"] == "invalid_input"


def test_bad_version_specifier(oca, oca_home, tmp_path) -> None:
    path = scaffold(oca, tmp_path, "badspec", "db")
    meta = json.loads((path / "metadata.json").read_text())
    meta["app_version_match"] = "newer than 3"
    (path / "metadata.json").write_text(json.dumps(meta))
    r = oca("driver", "add", str(path))
    assert r.code == 6
    assert "field 'app_version_match'" in r.err and "'newer than 3'" in r.err
    assert "hint:" in r.err
    assert registered(oca_home) == []


def test_bad_entrypoint_and_wrong_scope(oca, oca_home, tmp_path) -> None:
    path = scaffold(oca, tmp_path, "badentry", "db")
    meta = json.loads((path / "metadata.json").read_text())
    meta["entrypoint"] = "driver.py:Missing"
    (path / "metadata.json").write_text(json.dumps(meta))
    r = oca("driver", "add", str(path))
    assert r.code == 6 and "field 'entrypoint'" in r.err and "Missing" in r.err
    meta["entrypoint"] = "driver.py:BadentryDriver"
    meta["scope"] = "media"
    (path / "metadata.json").write_text(json.dumps(meta))
    r = oca("driver", "add", str(path))
    assert r.code == 6 and "does not implement the media contract" in r.err
    (path / "driver.py").write_text("this is not python(\n")
    meta["scope"] = "db"
    (path / "metadata.json").write_text(json.dumps(meta))
    r = oca("driver", "add", str(path))
    assert r.code == 6 and "import failed: SyntaxError" in r.err
    assert "Traceback" not in r.err
    (path / "driver.py").write_text("import no_such_client_lib\n")
    r = oca("driver", "add", str(path))
    assert r.code == 6 and f"{path / 'driver.py'}: import failed: ModuleNotFoundError" in r.err
    assert "hint: install no_such_client_lib" in r.err and ".staging" not in r.err
    assert registered(oca_home) == []


def test_driver_test_needs_a_backend_for_a_real_driver(oca) -> None:
    r = oca("driver", "test", "postgres")
    assert r.code == 6 and "needs a location" in r.err
    assert "hint: give it a backend: --location HOST:PORT" in r.err


def test_add_twice_conflicts_and_force_replaces(oca, oca_home, tmp_path) -> None:
    path = scaffold(oca, tmp_path, "dup", "ai")
    assert oca("driver", "add", str(path)).code == 0
    r = oca("driver", "add", str(path))
    assert r.code == 4 and "already registered" in r.err and "--force" in r.err
    assert oca("driver", "add", str(path), "--force").code == 0
    (tmp_path / "clash").mkdir()
    meta = {"name": "echo-db", "version": "0.1.0", "app": "x", "app_version_match": ">=0",
            "scope": "db", "entrypoint": "driver.py:X"}
    (tmp_path / "clash" / "metadata.json").write_text(json.dumps(meta))
    r = oca("driver", "add", str(tmp_path / "clash"), "--force")
    assert r.code == 4 and "(native)" in r.err
    assert registered(oca_home) == ["dup-0.1.0"]


def test_wrong_answers_name_the_failing_operation(oca, tmp_path) -> None:
    path = scaffold(oca, tmp_path, "liar", "db")
    code = (path / "driver.py").read_text()
    # Break one hook: describe forgets the primary key.
    code = code.replace('"primary_key": t["primary_key"]}', '"primary_key": []}')
    assert '"primary_key": []}' in code
    (path / "driver.py").write_text(code)
    assert oca("driver", "add", str(path)).code == 0  # it loads: only the suite can tell
    r = oca("driver", "test", "liar")
    assert r.code == 1
    assert "error: liar-0.1.0 failed 1 of 14 contract checks: describe_table" in r.err
    assert "FAIL describe_table" in r.err and "primary_key []" in r.err
    r = oca("--json", "driver", "test", "liar")
    assert r.code == 1
    assert r.json()["failed"] == ["describe_table (describe_table gives columns and primary key)"]


def test_no_driver_folder(oca, tmp_path) -> None:
    r = oca("driver", "add", str(tmp_path / "nope"))
    assert r.code == 3 and "no driver folder" in r.err
    (tmp_path / "empty").mkdir()
    r = oca("driver", "add", str(tmp_path / "empty"))
    assert r.code == 6 and "no metadata.json" in r.err
    (tmp_path / "empty" / "metadata.json").write_text(json.dumps(
        {"name": "c", "version": "1.0", "app": "a", "app_version_match": ">=1", "scope": "ai"}))
    r = oca("driver", "add", str(tmp_path / "empty"))
    assert r.code == 6 and "no Dockerfile and no 'entrypoint'" in r.err


# --- python plugins: loose files, entry points, the allow-list -----------------------------

LOOSE = '''
from pathlib import Path
from oca.contract.db import DbDriver

Path(__file__).with_suffix(".imported").write_text("yes")

class LooseDriver(DbDriver):
    """A driver from a loose file."""
    metadata = {"name": "loose-db", "version": "1.2.0", "app": "loose",
                "app_version_match": ">=1"}

    def ping(self):
        return {"status": "ok", "from": "loose file"}
'''


def test_loose_file_plugins_and_the_allow_list(oca, oca_home) -> None:
    plugins = oca_home / "plugins"
    plugins.mkdir()
    (plugins / "loose.py").write_text(LOOSE)
    marker = plugins / "loose.imported"
    r = oca("--json", "driver", "ls")
    rows = {d["driver"]: d for d in r.json()}
    assert rows["loose-db-1.2.0"]["source_type"] == "plugin"
    assert rows["loose-db-1.2.0"]["description"] == "A driver from a loose file."
    assert marker.exists()
    r = oca("--json", "service", "add", "l", "--scope", "db", "--app", "loose",
            "--app-version", "1.5", "--location", "127.0.0.1:9")
    assert r.json()["driver"] == "loose-db-1.2.0"
    r = oca("--json", "service", "ping", "l")
    assert r.code == 0 and r.json()["from"] == "loose file"

    marker.unlink()
    r = oca("--json", "driver", "ls", env={"OCA_PLUGINS": "something-else"})
    names = [d["driver"] for d in r.json()]
    assert "loose-db-1.2.0" not in names and "echo-db-0.1.0" in names  # natives always load
    assert not marker.exists()  # not even imported
    r = oca("--json", "driver", "ls", env={"OCA_PLUGINS": ""})
    assert all(d["source_type"] == "native" for d in r.json())
    r = oca("--json", "driver", "ls", env={"OCA_PLUGINS": "loose"})
    assert "loose-db-1.2.0" in [d["driver"] for d in r.json()]


def test_a_broken_loose_file_does_not_break_listing(oca, oca_home) -> None:
    plugins = oca_home / "plugins"
    plugins.mkdir()
    (plugins / "broken.py").write_text("raise RuntimeError('boom at import')\n")
    r = oca("driver", "ls")
    assert r.code == 0 and "echo-db-0.1.0" in r.out
    assert "warning: plugin skipped" in r.err and "boom at import" in r.err


def test_entry_point_plugins(oca, tmp_path) -> None:
    site = tmp_path / "site"
    (site / "ep_driver-1.0.dist-info").mkdir(parents=True)
    (site / "ep_driver.py").write_text(textwrap.dedent('''
        from oca.contract.media import MediaDriver

        class EpDriver(MediaDriver):
            metadata = {"name": "ep-media", "version": "1.0.0", "app": "ep",
                        "app_version_match": ">=0", "meta": {"k": 1}}

            def ping(self):
                return {"status": "ok", "meta": self.meta}
    '''))
    (site / "ep_driver-1.0.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: ep-driver\nVersion: 1.0\n")
    (site / "ep_driver-1.0.dist-info" / "entry_points.txt").write_text(
        "[oca.drivers]\nep = ep_driver:EpDriver\n")
    env = {"PYTHONPATH": str(site)}
    r = oca("--json", "driver", "show", "ep-media", env=env)
    assert r.code == 0, r.err
    info = r.json()
    assert info["entrypoint"] == "ep_driver:EpDriver" and info["scope"] == "media"
    r = oca("--json", "service", "add", "e", "--scope", "media", "--app", "ep",
            "--location", "127.0.0.1:9", env=env)
    assert r.json()["driver"] == "ep-media-1.0.0"
    r = oca("--json", "service", "ping", "e", env=env)
    assert r.code == 0 and r.json()["meta"] == {"k": 1}
    r = oca("--json", "driver", "ls", env={**env, "OCA_PLUGINS": "other"})
    assert "ep-media-1.0.0" not in [d["driver"] for d in r.json()]
    # Removing is for folders added with `oca driver add`; packages are uninstalled.
    r = oca("driver", "rm", "ep-media", env=env)
    assert r.code == 6 and "not added with `oca driver add`" in r.err


# --- the REST factory ----------------------------------------------------------------------

def test_rest_factory_error_shape_and_headers() -> None:
    import warnings

    from oca import discovery
    from oca.contract.rest import create_app

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # starlette's note about httpx vs httpx2
        from starlette.testclient import TestClient

    cls = discovery.load_driver_class(discovery.get_driver("echo-db"))
    with TestClient(create_app(cls)) as http:
        h = {"Hosts": "db1:1,db2:2", "Metadata": "null"}
        assert http.get("/ping", headers=h).json()["hosts"] == ["db1:1", "db2:2"]
        r = http.get("/table/missing", headers=h)
        assert r.status_code == 404
        assert r.json() == {"error": {"type": "not_found", "message": "table not found: missing",
                                      "hint": "list tables with `oca db tables`"}}
        r = http.post("/table", headers=h, json={"name": "bad;", "columns": [
            {"name": "a", "datatype": "int"}]})
        assert r.status_code == 422 and r.json()["error"]["type"] == "invalid_input"
        r = http.post("/table", headers=h, json={"name": "t", "colour": "red", "columns": [
            {"name": "a", "datatype": "int"}]})
        assert r.status_code == 422 and "colour" in r.json()["error"]["message"]
        r = http.post("/table", headers=h, content=b"{not json")
        assert r.status_code == 422 and "not valid JSON" in r.json()["error"]["message"]
        r = http.get("/ping", headers={"Metadata": "[1, 2]"})
        assert r.status_code == 422 and "Metadata" in r.json()["error"]["message"]
        # one instance per (Hosts, Metadata): state persists across calls of one service
        body = {"name": "t", "columns": [{"name": "id", "datatype": "int"}]}
        assert http.post("/table", headers=h, json=body).status_code == 200
        assert [t["name"] for t in http.get("/table", headers=h).json()] == ["t"]
        assert http.get("/table", headers={"Hosts": "other:1"}).json() == []
        r = http.get("/table/t/record", headers=h, params={"dql": json.dumps({"limit": 1})})
        assert r.status_code == 200 and r.json() == []


def test_rest_module_serves_a_driver_as_a_process(tmp_path) -> None:
    """`python -m oca.contract.rest FILE.py:Class` (what container templates run)."""
    import sys
    import time

    import httpx

    from oca.net import free_port

    port = free_port()
    target = f"{ROOT / 'drivers/echo-ai-0.1.0/driver.py'}:EchoAiDriver"
    p = subprocess.Popen([sys.executable, "-m", "oca.contract.rest", target, "--port", str(port)],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/models", timeout=1)
                break
            except httpx.HTTPError:
                assert p.poll() is None, p.stdout.read().decode() if p.stdout else ""
                assert time.monotonic() < deadline, "the driver process never answered"
                time.sleep(0.05)
        assert r.json()["default"] == "echo"
        from oca.contract import testing

        client = testing.HttpClient(f"http://127.0.0.1:{port}", [], None, scope="ai")
        report = testing.run_suite("ai", client)
        client.close()
        assert report["passed"], report["failed"]
    finally:
        p.terminate()
        p.wait(10)


# --- container plugins (Docker) ------------------------------------------------------------

@pytest.mark.docker
@pytest.mark.slow
def test_node_container_plugin_passes_the_ai_suite(oca, oca_home, docker_engine, tmp_path,
                                                   suffix) -> None:
    """A driver in JavaScript (Node.js from Debian's packages) speaks the ai REST contract."""
    r = oca("driver", "add", str(NODE_DRIVER))
    assert r.code == 0, r.err
    try:
        r = oca("driver", "test", "node-echo-ai")
        assert r.code == 0, r.err
        assert "8 contract checks passed (http)" in r.out
        # and through a service, with the one call path (`oca ai classify`)
        name = f"node-{suffix}"
        r = oca("--json", "service", "add", name, "--scope", "ai", "--app", "node-echo",
                "--location", "127.0.0.1:9")
        assert r.code == 0 and r.json()["driver"] == "node-echo-ai-0.1.0", r.err
        from oca.contract.testing import tiny_png

        img = tmp_path / "red.png"
        img.write_bytes(tiny_png())
        r = oca("--json", "ai", "classify", str(img), "--service", name, "--model", "echo",
                "--top-k", "1")
        assert r.code == 0, r.err
        assert "node-png" in r.out
        r = oca("--json", "driver", "show", "node-echo-ai")
        assert r.json()["kind"] == "container"
        assert r.json()["capabilities"] == {"language": "javascript"}
    finally:
        from python_on_whales import docker

        # Stop its container but keep the image: later runs reuse it.
        label = ("label", "oca.driver=node-echo-ai-0.1.0")
        for c in docker.container.list(all=True, filters=[label]):
            docker.container.remove(c, force=True)


@pytest.mark.docker
@pytest.mark.slow
def test_container_scaffold_builds_passes_and_rm_cleans_up(oca, oca_home, docker_engine,
                                                           tmp_path) -> None:
    from python_on_whales import docker

    path = scaffold(oca, tmp_path, "boxed-db", "db", kind="container")
    assert (path / "Dockerfile").is_file()
    assert "entrypoint" not in json.loads((path / "metadata.json").read_text())
    r = oca("driver", "add", str(path))
    assert r.code == 0, r.err
    assert not (path / "wheelhouse").exists()  # the build happened on a copy
    r = oca("--json", "driver", "test", "boxed-db")
    assert r.code == 0, r.out + r.err
    assert r.json()["via"] == "http" and r.json()["passed"]
    assert docker.container.list(filters=[("label", "oca.driver=boxed-db-0.1.0")])
    r = oca("driver", "rm", "boxed-db")
    assert r.code == 0, r.err
    assert not docker.container.list(all=True, filters=[("label", "oca.driver=boxed-db-0.1.0")])
    assert not docker.image.exists("oca-driver/boxed-db:0.1.0")
    assert registered(oca_home) == []


@pytest.mark.docker
def test_dockerfile_that_fails_shows_last_build_lines(oca, oca_home, docker_engine,
                                                      tmp_path, suffix) -> None:
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "metadata.json").write_text(json.dumps({
        "name": f"broken-{suffix}", "version": "0.1.0", "app": "x",
        "app_version_match": ">=0", "scope": "ai"}))
    (folder / "Dockerfile").write_text(
        "ARG BASE_IMAGE=debian:bookworm-slim\nFROM ${BASE_IMAGE}\n"
        f"RUN echo 'compiler says: marker-{suffix}' && exit 3\n")
    r = oca("driver", "add", str(folder))
    assert r.code == 5
    assert f"compiler says: marker-{suffix}" in r.err  # the build's own output
    assert f"error: building driver broken-{suffix}-0.1.0 failed: The command" in r.err
    assert "returned a non-zero code: 3" in r.err
    assert f"hint: fix {folder / 'Dockerfile'}" in r.err
    assert registered(oca_home) == []
    r = oca("--json", "driver", "add", str(folder))
    err = r.json()["error"]
    assert err["type"] == "driver_unavailable" and any(
        f"marker-{suffix}" in line for line in err["detail"])
    # The failed step's intermediate container is removed too (docker build --force-rm).
    from python_on_whales import docker

    leftovers = [c.name for c in docker.container.list(all=True)
                 if f"marker-{suffix}" in " ".join(c.config.cmd or [])]
    assert leftovers == []


def test_home_plugin_folder_is_cleaned_of_staging(oca, oca_home, tmp_path) -> None:
    path = scaffold(oca, tmp_path, "stage", "db")
    (path / "metadata.json").write_text("{")
    assert oca("driver", "add", str(path)).code == 6
    assert registered(oca_home) == []  # no .staging-* copy left behind
    assert shutil.which("git")  # the git URL path relies on it
    assert os.environ["OCA_HOME"] == str(oca_home)


def test_concurrent_adds_of_one_driver_register_it_once(oca_home, tmp_path) -> None:
    import sys

    path = tmp_path / "race"
    shutil.copytree(ROOT / "templates" / "db", path)
    (path / "metadata.json").write_text(json.dumps({
        "name": "race", "version": "0.1.0", "app": "race", "app_version_match": ">=0",
        "scope": "db", "entrypoint": "driver.py:EchoDbDriver"}))
    env = {**os.environ, "OCA_HOME": str(oca_home)}
    procs = [subprocess.Popen([sys.executable, "-m", "oca", "driver", "add", str(path)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(3)]
    codes = sorted(p.wait(60) for p in procs)
    assert codes == [0, 4, 4], [p.stderr.read() for p in procs]
    assert registered(oca_home) == ["race-0.1.0"]


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.parametrize("scope", ["ai", "media"])
def test_container_scaffolds_of_the_other_scopes_pass(oca, docker_engine, tmp_path,
                                                      scope) -> None:
    from python_on_whales import docker

    name = f"boxed-{scope}"
    path = scaffold(oca, tmp_path, name, scope, kind="container")
    r = oca("driver", "add", str(path))
    assert r.code == 0, r.err
    try:
        r = oca("--json", "driver", "test", name)
        assert r.code == 0, r.out + r.err
        assert r.json()["via"] == "http" and r.json()["passed"]
    finally:  # keep the image (rebuilt only when its inputs change), drop the container
        label = ("label", f"oca.driver={name}-0.1.0")
        for c in docker.container.list(all=True, filters=[label]):
            docker.container.remove(c, force=True)
