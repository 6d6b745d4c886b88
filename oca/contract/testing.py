"""The scope contract test suites, runnable against any driver.

A suite talks to a driver through a `Client`: `DirectClient` calls a python driver instance
in-process, `AsgiClient` goes through the REST factory (oca.contract.rest) in-process, and
`HttpClient` reaches a running driver (a container or a process) over HTTP with upstream's
protocol. Every check is named after the operation it exercises, so a failing report says
which operation answered the contract wrongly. Native drivers, plugins and scaffolds all run
the same suites (`oca driver test`).
"""

from __future__ import annotations

import io
import json
import struct
import time
import uuid
import wave
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from oca.calls import encode_request
from oca.contract.base import Driver, Operation
from oca.errors import (
    BadInput,
    DriverUnavailable,
    NotFound,
    OcaError,
    error_from_body,
)


class ContractViolation(AssertionError):
    """A driver answered, but not as the contract says."""


# --- clients --------------------------------------------------------------------------------

class Client:
    operations: dict[str, Operation]

    def call(self, op: str, **params: Any) -> Any:
        raise NotImplementedError

    def close(self) -> None:
        """Release the driver or the connection."""


class DirectClient(Client):
    """A python driver instance, called in-process (what `oca.calls` does)."""

    def __init__(self, driver: Driver) -> None:
        self.driver = driver
        self.operations = type(driver).operations

    def call(self, op: str, **params: Any) -> Any:
        import inspect

        fn = getattr(self.driver, op)
        try:
            inspect.signature(fn).bind(**params)
        except TypeError as e:
            raise BadInput(f"{op}: {e}") from e
        result = fn(**params)
        # What crosses the wire is JSON: a result that is not JSON-able breaks HTTP callers.
        try:
            return json.loads(json.dumps(result))
        except (TypeError, ValueError) as e:
            raise ContractViolation(f"result is not JSON-serialisable: {e}") from e

    def close(self) -> None:
        self.driver.close()


def decode(r: Any, op: str) -> Any:
    """The JSON result of a response, or the typed error its `{"error": ...}` body names."""
    try:
        body = r.json()
    except ValueError:
        body = None
    if r.status_code >= 400:
        err = body.get("error") if isinstance(body, dict) else None
        if not isinstance(err, dict) or "message" not in err:
            raise ContractViolation(
                f"HTTP {r.status_code} without the error shape "
                f"{{\"error\": {{\"type\", \"message\", \"hint\"}}}}: {r.text[:200]!r}")
        e = error_from_body(body)
        assert e is not None
        if type(e) is OcaError:
            e.type = str(err.get("type"))
        raise e
    if body is None and r.text.strip() != "null":
        raise ContractViolation(f"HTTP {r.status_code} with a body that is not JSON: "
                                f"{r.text[:200]!r}")
    return body


class _HttpBase(Client):
    http: Any

    def __init__(self, hosts: list[str], meta: dict[str, Any] | None, scope_ops:
                 dict[str, Operation]) -> None:
        self.headers = {"Hosts": ",".join(hosts), "Metadata": json.dumps(meta or None)}
        self.operations = scope_ops

    def call(self, op: str, **params: Any) -> Any:
        spec = self.operations[op]
        path, kwargs = encode_request(spec, params)
        r = self.http.request(spec.method, path, headers=self.headers, **kwargs)
        return decode(r, op)

    def close(self) -> None:
        self.http.close()


class HttpClient(_HttpBase):
    """A running driver (container or process) at `base_url`."""

    def __init__(self, base_url: str, hosts: list[str], meta: dict[str, Any] | None,
                 scope: str | None = None, operations: dict[str, Operation] | None = None,
                 timeout: float = 60.0) -> None:
        import httpx

        if operations is None:
            from oca.contract import scope_contract

            operations = scope_contract(scope or "db").operations
        super().__init__(hosts, meta, operations)
        self.http = httpx.Client(base_url=base_url.rstrip("/"), timeout=timeout, trust_env=False)

    def call(self, op: str, **params: Any) -> Any:
        import httpx

        try:
            return super().call(op, **params)
        except httpx.HTTPError as e:
            raise DriverUnavailable(f"driver unreachable at {self.http.base_url}: {e}") from e


class AsgiClient(_HttpBase):
    """A python driver behind the REST factory, in-process (no socket, same bytes)."""

    def __init__(self, cls: type[Driver], hosts: list[str], meta: dict[str, Any] | None,
                 default_meta: dict[str, Any] | None = None) -> None:
        import warnings

        from oca.contract.rest import create_app

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # starlette's note about httpx vs httpx2
            from starlette.testclient import TestClient

        super().__init__(hosts, meta, cls.operations)
        self.http = TestClient(create_app(cls, default_meta), raise_server_exceptions=False)
        self.http.__enter__()

    def close(self) -> None:
        self.http.__exit__(None, None, None)


# --- the runner -----------------------------------------------------------------------------

@dataclass
class Check:
    name: str
    operation: str
    fn: Callable[[Client, dict[str, Any]], None]


def expect(cond: bool, message: str) -> None:
    if not cond:
        raise ContractViolation(message)


def expect_error(client: Client, error: type[OcaError] | tuple[type[OcaError], ...], op: str,
                 **params: Any) -> OcaError:
    errors = error if isinstance(error, tuple) else (error,)
    wanted = " or ".join(e.type for e in errors)
    try:
        result = client.call(op, **params)
    except errors as e:
        return e
    except OcaError as e:
        raise ContractViolation(f"expected a {wanted} error, got {e.type}: {e.message}") from e
    raise ContractViolation(f"expected a {wanted} error, got a result: "
                            f"{json.dumps(result, default=str)[:200]}")


def run_suite(scope: str, client: Client,
              progress: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Run every check of `scope`'s suite; a failed check does not stop the others
    (except when the driver is unreachable: later checks would only repeat it)."""
    checks = SUITES[scope]()
    state: dict[str, Any] = {"id": uuid.uuid4().hex[:8]}
    results = []
    unreachable = False
    for check in checks:
        t0 = time.perf_counter()
        row: dict[str, Any] = {"check": check.name, "operation": check.operation}
        if unreachable:
            row.update(ok=False, error="skipped: the driver is unreachable")
        else:
            try:
                check.fn(client, state)
                row.update(ok=True, error=None)
            except ContractViolation as e:
                row.update(ok=False, error=str(e))
            except OcaError as e:
                row.update(ok=False, error=f"{e.type}: {e.message}")
                unreachable = isinstance(e, DriverUnavailable)
            except Exception as e:  # noqa: BLE001 - a crashing driver is a failed check
                row.update(ok=False, error=f"{type(e).__name__}: {e}")
        row["seconds"] = round(time.perf_counter() - t0, 4)
        results.append(row)
        if progress:
            progress(row)
    covered = {c.operation for c in checks}
    failed = [r for r in results if not r["ok"]]
    return {
        "passed": not failed,
        "checks": results,
        "failed": [f"{r['operation']} ({r['check']})" for r in failed],
        "untested": [op for op in client.operations if op not in covered],
    }


# --- shared checks --------------------------------------------------------------------------

def _ping(client: Client, state: dict[str, Any]) -> None:
    result = client.call("ping")
    expect(isinstance(result, dict), f"expected a JSON object, got {result!r:.200}")


PING = Check("ping answers a JSON object", "ping", _ping)


# --- db -------------------------------------------------------------------------------------

DB_COLUMNS = [{"name": "id", "datatype": "int"}, {"name": "name", "datatype": "text"},
              {"name": "score", "datatype": "float"}]
DB_ROWS = [{"id": 1, "name": "ada", "score": 1.5}, {"id": 2, "name": "bob", "score": 2.5},
           {"id": 3, "name": "cy", "score": 0.5}]


def _names(tables: Any) -> list[str]:
    expect(isinstance(tables, list), f"expected a list of tables, got {tables!r:.200}")
    return [t["name"] if isinstance(t, dict) else t for t in tables]


def _rows(result: Any) -> list[dict[str, Any]]:
    expect(isinstance(result, list) and all(isinstance(r, dict) for r in result),
           f"expected a list of records (objects), got {result!r:.200}")
    return result


def db_suite() -> list[Check]:
    def table(s: dict[str, Any]) -> str:
        return f"oca_ct_{s['id']}"

    def list_tables(c: Client, s: dict[str, Any]) -> None:
        _names(c.call("list_tables"))

    def create(c: Client, s: dict[str, Any]) -> None:
        out = c.call("create_table", name=table(s), columns=DB_COLUMNS, primary_key=["id"])
        expect(out not in (None, False), f"create_table answered {out!r}")
        s["created"] = True

    def listed(c: Client, s: dict[str, Any]) -> None:
        names = _names(c.call("list_tables"))
        expect(table(s) in names, f"new table {table(s)} missing from {names[:20]}")

    def describe(c: Client, s: dict[str, Any]) -> None:
        d = c.call("describe_table", table=table(s))
        expect(isinstance(d, dict), f"expected a table descriptor object, got {d!r:.200}")
        cols = [col["name"] for col in d.get("columns", [])]
        expect(cols == ["id", "name", "score"], f"columns {cols}, expected id, name, score")
        expect(d.get("primary_key") == ["id"], f"primary_key {d.get('primary_key')!r}")

    def insert(c: Client, s: dict[str, Any]) -> None:
        c.call("insert", table=table(s), field_values=DB_ROWS)

    def select_all(c: Client, s: dict[str, Any]) -> None:
        rows = _rows(c.call("select", table=table(s)))
        got = sorted((r.get("id"), r.get("name"), r.get("score")) for r in rows)
        want = sorted((r["id"], r["name"], r["score"]) for r in DB_ROWS)
        expect(got == want, f"records {got}, expected {want}")

    def select_where(c: Client, s: dict[str, Any]) -> None:
        rows = _rows(c.call("select", table=table(s), dql={"where": {"id": 2}}))
        expect([r.get("name") for r in rows] == ["bob"], f"where id=2 gave {rows}")
        rows = _rows(c.call("select", table=table(s), dql={"where": {"score": {">": 1}}}))
        expect(sorted(r.get("id") for r in rows) == [1, 2], f"where score>1 gave {rows}")

    def select_dql(c: Client, s: dict[str, Any]) -> None:
        rows = _rows(c.call("select", table=table(s),
                            dql={"fields": ["name"], "order_by": ["-id"], "limit": 2}))
        expect(rows == [{"name": "cy"}, {"name": "bob"}],
               f"fields=name order_by=-id limit=2 gave {rows}")

    def update(c: Client, s: dict[str, Any]) -> None:
        c.call("update", table=table(s), field_values={"name": "ann"}, where={"id": 1})
        rows = _rows(c.call("select", table=table(s), dql={"where": {"id": 1}}))
        expect([r.get("name") for r in rows] == ["ann"], f"after update: {rows}")

    def delete(c: Client, s: dict[str, Any]) -> None:
        c.call("delete", table=table(s), where={"id": 1})
        rows = _rows(c.call("select", table=table(s)))
        expect(sorted(r.get("id") for r in rows) == [2, 3], f"after delete: {rows}")
        c.call("delete", table=table(s), all=True)
        rows = _rows(c.call("select", table=table(s)))
        expect(rows == [], f"after delete all: {rows}")

    def missing(c: Client, s: dict[str, Any]) -> None:
        expect_error(c, NotFound, "describe_table", table=f"oca_ct_missing_{s['id']}")

    def bad_name(c: Client, s: dict[str, Any]) -> None:
        expect_error(c, BadInput, "create_table", name="bad;name", columns=DB_COLUMNS)

    def bad_value(c: Client, s: dict[str, Any]) -> None:
        expect_error(c, BadInput, "insert", table=table(s),
                     field_values={"id": "not a number", "name": "x"})

    return [
        PING,
        Check("list_tables answers a list", "list_tables", list_tables),
        Check("create_table creates a table", "create_table", create),
        Check("list_tables lists the new table", "list_tables", listed),
        Check("describe_table gives columns and primary key", "describe_table", describe),
        Check("insert writes a list of records", "insert", insert),
        Check("select returns every record", "select", select_all),
        Check("select filters with where", "select", select_where),
        Check("select honours fields, order_by and limit", "select", select_dql),
        Check("update changes matching records", "update", update),
        Check("delete removes matching records", "delete", delete),
        Check("describe_table of a missing table is not_found", "describe_table", missing),
        Check("create_table refuses an unsafe name", "create_table", bad_name),
        Check("insert refuses a value of the wrong type", "insert", bad_value),
    ]


# --- ai -------------------------------------------------------------------------------------

def tiny_png(width: int = 8, height: int = 8, rgb: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A valid PNG made with the standard library."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2,
                                                              0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def ai_suite() -> list[Check]:
    def usage(c: Client, s: dict[str, Any]) -> None:
        u = c.call("usage")
        expect(isinstance(u, dict), f"expected a JSON object, got {u!r:.200}")

    def models(c: Client, s: dict[str, Any]) -> None:
        m = c.call("models")
        expect(isinstance(m, dict) and isinstance(m.get("models"), list) and m["models"],
               f"expected {{\"default\", \"models\": [...]}}, got {m!r:.200}")
        names = [x.get("name") for x in m["models"] if isinstance(x, dict)]
        expect(all(isinstance(n, str) for n in names) and names,
               f"every model needs a name: {m['models']!r:.200}")
        s["model"] = m.get("default") if m.get("default") in names else names[0]

    def serve(c: Client, s: dict[str, Any]) -> None:
        out = c.call("serve", name=s["model"])
        expect(isinstance(out, dict) and out.get("status") == "ok",
               f"expected {{\"status\": \"ok\", ...}}, got {out!r:.200}")

    def predict(c: Client, s: dict[str, Any]) -> None:
        out = c.call("predict", img=tiny_png(), model=s["model"], top_k=2)
        results = out.get("results") if isinstance(out, dict) else None
        expect(isinstance(results, list) and results and isinstance(results[0], dict),
               f"expected {{\"results\": [{{...}}]}}, got {out!r:.300}")
        first = results[0]
        expect(isinstance(first.get("result"), str) and first["result"],
               f"results[0].result must be the top label, got {first!r:.200}")
        labels = first.get("labels")
        expect(isinstance(labels, list) and 0 < len(labels) <= 2
               and all(isinstance(x.get("label"), str) for x in labels),
               f"results[0].labels must hold 1..top_k labels, got {labels!r:.200}")

    def bad_image(c: Client, s: dict[str, Any]) -> None:
        expect_error(c, BadInput, "predict", img=b"this is not an image")

    def unknown_model(c: Client, s: dict[str, Any]) -> None:
        expect_error(c, (NotFound, BadInput), "serve", name=f"no-such-model-{s['id']}")

    def unload(c: Client, s: dict[str, Any]) -> None:
        out = c.call("unload", name=s["model"])
        expect(out not in (None, False), f"unload answered {out!r}")

    return [
        PING,
        Check("usage answers an object", "usage", usage),
        Check("models lists named models", "models", models),
        Check("serve loads a listed model", "serve", serve),
        Check("predict labels an image", "predict", predict),
        Check("predict refuses bytes that are not an image", "predict", bad_image),
        Check("serve refuses an unknown model", "serve", unknown_model),
        Check("unload unloads the model", "unload", unload),
    ]


# --- media ----------------------------------------------------------------------------------

def tiny_wav(seconds: float = 0.5, rate: int = 8000) -> bytes:
    """A valid mono 16-bit WAV (silence) made with the standard library."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x00\x00" * int(seconds * rate))
    return buf.getvalue()


def media_suite() -> list[Check]:
    def upload(c: Client, s: dict[str, Any]) -> None:
        out = c.call("upload", file=tiny_wav(), name=f"oca_ct_{s['id']}.wav")
        expect(isinstance(out, dict) and isinstance(out.get("source"), str),
               f"expected {{\"source\": ...}}, got {out!r:.200}")
        s["source"] = out["source"]

    def probe(c: Client, s: dict[str, Any]) -> None:
        out = c.call("probe", source=s["source"])
        expect(isinstance(out, dict) and isinstance(out.get("streams"), list)
               and isinstance(out.get("format"), dict),
               f"expected ffprobe JSON {{\"streams\": [...], \"format\": {{...}}}}, got "
               f"{out!r:.200}")

    def create(c: Client, s: dict[str, Any]) -> None:
        out = c.call("create_pipeline", input_file={"source": s["source"]},
                     outputs=[{"container": "wav",
                               "channels": [{"stream_type": "audio", "codec": "pcm_s16le"}]}])
        expect(isinstance(out, dict) and isinstance(out.get("id"), str)
               and isinstance(out.get("outputs"), list) and len(out["outputs"]) == 1,
               f"expected {{\"id\": str, \"outputs\": [one]}}, got {out!r:.200}")
        s["pipeline"] = out["id"]

    def status(c: Client, s: dict[str, Any]) -> None:
        out = c.call("pipeline_status", pipeline_id=s["pipeline"], wait=10)
        expect(isinstance(out, list) and len(out) == 1 and isinstance(out[0], dict),
               f"expected one output status, got {out!r:.200}")
        st = out[0].get("status")
        expect(st in ("created", "running", "finished", "error", "stopped"),
               f"unknown output status {st!r}")

    def listing(c: Client, s: dict[str, Any]) -> None:
        out = c.call("list_pipelines")
        expect(isinstance(out, list), f"expected a list, got {out!r:.200}")
        ids = [p.get("id") for p in out if isinstance(p, dict)]
        expect(s["pipeline"] in ids, f"pipeline {s['pipeline']} missing from {ids[:20]}")

    def stop(c: Client, s: dict[str, Any]) -> None:
        out = c.call("stop_pipeline", pipeline_id=s["pipeline"])
        expect(isinstance(out, list), f"expected a list of output statuses, got {out!r:.200}")

    def missing(c: Client, s: dict[str, Any]) -> None:
        expect_error(c, NotFound, "pipeline_status", pipeline_id=f"nosuch{s['id']}")

    def bad_pipeline(c: Client, s: dict[str, Any]) -> None:
        expect_error(c, BadInput, "create_pipeline", input_file={"source": s["source"]},
                     outputs="not a list")

    return [
        PING,
        Check("upload returns a source", "upload", upload),
        Check("probe answers ffprobe JSON", "probe", probe),
        Check("create_pipeline starts one output", "create_pipeline", create),
        Check("pipeline_status reports each output", "pipeline_status", status),
        Check("list_pipelines lists the pipeline", "list_pipelines", listing),
        Check("stop_pipeline answers output statuses", "stop_pipeline", stop),
        Check("pipeline_status of a missing pipeline is not_found", "pipeline_status", missing),
        Check("create_pipeline refuses a malformed pipeline", "create_pipeline",
              bad_pipeline),
    ]


SUITES: dict[str, Callable[[], list[Check]]] = {
    "db": db_suite,
    "ai": ai_suite,
    "media": media_suite,
}
