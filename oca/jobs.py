"""Jobs: queued calls of a service operation, run by a huey consumer.

A job is one `oca.calls.call(service_id, op, **params)`, the same path a sync call takes.
The queue is huey: `SqliteHuey` in `$OCA_HOME/queue.db` by default, `RedisHuey` when
`OCA_QUEUE_URL=redis://...` (then any number of `oca worker` processes may share it).

Huey messages carry only the job id, serialized as JSON (never pickle). The job record
(status, params, result, error) lives in a small store next to the queue: a SQLite table
(`$OCA_HOME/jobs.db`) or Redis hashes. Uploaded bytes are written to files under
`$OCA_HOME/uploads/` and referenced from the params, never pickled or put in the queue.

Job JSON keeps upstream's shapes: `{id, status, queue, position}` when enqueued and
`{status, queue, position, result}` when read (plus oca's `error`, `service`, `op`, times).
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from oca import config
from oca.errors import BadInput, Conflict, NotFound, OcaError, Timeout, Unavailable

DONE = ("finished", "failed", "canceled")
STATUSES = ("queued", "started", *DONE)
DEFAULT_TTL = 3600
QUEUE_NAME = "oca"
TASK_NAME = "oca.job"
UPLOAD_TAG = "$upload"

_lock = threading.Lock()
_queues: dict[tuple[str, str], Any] = {}
_stores: dict[tuple[str, str], JobStore] = {}


class JobNotFound(NotFound):
    def __init__(self, job_id: str) -> None:
        super().__init__(f"job not found: {job_id}",
                         hint="jobs are kept for their ttl after they end; list them with "
                              "`oca job ls`")


def queue_url() -> str:
    """`OCA_QUEUE_URL` (redis://...), or "" for the embedded SQLite queue."""
    url = os.environ.get("OCA_QUEUE_URL", "").strip()
    if url and not url.startswith(("redis://", "rediss://", "unix://")):
        raise BadInput(f"unsupported OCA_QUEUE_URL {url!r}",
                       hint="use redis://HOST:PORT/DB, or unset it for the embedded queue")
    return url


def _key() -> tuple[str, str]:
    return (str(config.home()), queue_url())


# -- serialization: JSON, never pickle --------------------------------------------------------

def _encode(obj: Any) -> Any:
    from huey.registry import Message

    if isinstance(obj, Message):
        return {"__huey_message__": [_encode(v) for v in obj]}
    if isinstance(obj, datetime):
        return {"__datetime__": obj.isoformat()}
    if isinstance(obj, tuple | list):
        return [_encode(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): _encode(v) for k, v in obj.items()}
    if obj is None or isinstance(obj, str | int | float | bool):
        return obj
    raise TypeError(f"jobs carry JSON only, not {type(obj).__name__}")


def _decode(obj: Any) -> Any:
    from huey.registry import Message

    if isinstance(obj, list):
        return [_decode(v) for v in obj]
    if isinstance(obj, dict):
        if "__huey_message__" in obj:
            return Message(*[_decode(v) for v in obj["__huey_message__"]])
        if "__datetime__" in obj:
            return datetime.fromisoformat(obj["__datetime__"])
        return {k: _decode(v) for k, v in obj.items()}
    return obj


def _serializer() -> Any:
    from huey.serializer import Serializer

    class JsonSerializer(Serializer):
        """huey's serializer with JSON instead of pickle: a queue message cannot run code."""

        def _serialize(self, data: Any) -> bytes:
            return json.dumps(_encode(data), separators=(",", ":")).encode()

        def _deserialize(self, data: bytes) -> Any:
            return _decode(json.loads(data))

    return JsonSerializer()


# -- the job store ----------------------------------------------------------------------------

class JobStore:
    """Job records: create, read, update, list. Times are epoch seconds."""

    def create(self, rec: dict[str, Any]) -> None:
        raise NotImplementedError

    def get(self, job_id: str) -> dict[str, Any] | None:
        raise NotImplementedError

    def update(self, job_id: str, **fields: Any) -> None:
        raise NotImplementedError

    def claim(self, job_id: str, worker: str) -> bool:
        """queued → started by `worker`, atomically; False when gone or canceled."""
        raise NotImplementedError

    def started(self) -> list[dict[str, Any]]:
        """Jobs currently marked started (to find those whose worker died)."""
        return [r for r in self.recent(1000) if r["status"] == "started"]

    def cancel(self, job_id: str) -> bool:
        """queued → canceled, atomically; False when it already started or ended."""
        raise NotImplementedError

    def position(self, rec: dict[str, Any]) -> int | None:
        raise NotImplementedError

    def recent(self, limit: int) -> list[dict[str, Any]]:
        raise NotImplementedError


_FIELDS = ("id", "status", "queue", "service", "op", "params", "result", "error", "ttl",
           "created", "started", "ended", "expires", "worker")
_JSON_FIELDS = ("params", "result", "error")


class SqliteJobStore(JobStore):
    def __init__(self, path: Path) -> None:
        self.path = path
        with self._db() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS jobs (id TEXT PRIMARY KEY, status TEXT, queue TEXT,"
                " service TEXT, op TEXT, params TEXT, result TEXT, error TEXT, ttl INTEGER,"
                " created REAL, started REAL, ended REAL, expires REAL, worker TEXT)")
            db.execute("CREATE INDEX IF NOT EXISTS jobs_status ON jobs (status, created)")
            cols = {r[1] for r in db.execute("PRAGMA table_info(jobs)")}
            if "worker" not in cols:  # a jobs.db from before workers were recorded
                db.execute("ALTER TABLE jobs ADD COLUMN worker TEXT")

    def _db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30, isolation_level=None)

    @staticmethod
    def _row(row: sqlite3.Row | None) -> dict[str, Any] | None:
        if row is None:
            return None
        rec = dict(zip(_FIELDS, row, strict=True))
        for f in _JSON_FIELDS:
            rec[f] = json.loads(rec[f]) if rec[f] is not None else None
        return rec

    def _sweep(self, db: sqlite3.Connection) -> None:
        db.execute("DELETE FROM jobs WHERE expires IS NOT NULL AND expires < ?", (time.time(),))

    def create(self, rec: dict[str, Any]) -> None:
        values = [json.dumps(rec.get(f)) if f in _JSON_FIELDS else rec.get(f) for f in _FIELDS]
        with self._db() as db:
            db.execute(f"INSERT INTO jobs ({','.join(_FIELDS)}) VALUES "
                       f"({','.join('?' * len(_FIELDS))})", values)

    def get(self, job_id: str) -> dict[str, Any] | None:
        with self._db() as db:
            self._sweep(db)
            row = db.execute(f"SELECT {','.join(_FIELDS)} FROM jobs WHERE id = ?",
                             (job_id,)).fetchone()
        return self._row(row)

    def update(self, job_id: str, **fields: Any) -> None:
        cols = [f for f in fields if f in _FIELDS and f != "id"]
        vals = [json.dumps(fields[f]) if f in _JSON_FIELDS else fields[f] for f in cols]
        with self._db() as db:
            db.execute(f"UPDATE jobs SET {','.join(c + ' = ?' for c in cols)} WHERE id = ?",
                       (*vals, job_id))

    def claim(self, job_id: str, worker: str) -> bool:
        with self._db() as db:
            cur = db.execute("UPDATE jobs SET status = 'started', started = ?, worker = ? "
                             "WHERE id = ? AND status = 'queued'",
                             (time.time(), worker, job_id))
            return cur.rowcount == 1

    def started(self) -> list[dict[str, Any]]:
        with self._db() as db:
            rows = db.execute(f"SELECT {','.join(_FIELDS)} FROM jobs "
                              "WHERE status = 'started'").fetchall()
        return [r for r in (self._row(x) for x in rows) if r is not None]

    def cancel(self, job_id: str) -> bool:
        now = time.time()
        with self._db() as db:
            cur = db.execute("UPDATE jobs SET status = 'canceled', ended = ?, expires = ? + ttl "
                             "WHERE id = ? AND status = 'queued'", (now, now, job_id))
            return cur.rowcount == 1

    def position(self, rec: dict[str, Any]) -> int | None:
        if rec["status"] != "queued":
            return None
        with self._db() as db:
            (n,) = db.execute("SELECT COUNT(*) FROM jobs WHERE status = 'queued' AND "
                              "(created < ? OR (created = ? AND id < ?))",
                              (rec["created"], rec["created"], rec["id"])).fetchone()
        return int(n)

    def recent(self, limit: int) -> list[dict[str, Any]]:
        with self._db() as db:
            self._sweep(db)
            rows = db.execute(f"SELECT {','.join(_FIELDS)} FROM jobs ORDER BY created DESC "
                              "LIMIT ?", (limit,)).fetchall()
        return [r for r in (self._row(x) for x in rows) if r is not None]


class RedisJobStore(JobStore):
    """A hash per job (`oca:job:ID`, expiring `ttl` s after the job ends), plus two sorted
    sets: every job by creation time, and the queued ones (for positions)."""

    ALL, QUEUED = "oca:jobs", "oca:jobs:queued"

    def __init__(self, url: str) -> None:
        import redis

        self.r = redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5)

    @staticmethod
    def k(job_id: str) -> str:
        return f"oca:job:{job_id}"

    def create(self, rec: dict[str, Any]) -> None:
        p = self.r.pipeline()
        p.hset(self.k(rec["id"]), mapping={f: json.dumps(rec.get(f)) for f in _FIELDS})
        p.zadd(self.ALL, {rec["id"]: rec["created"]})
        p.zadd(self.QUEUED, {rec["id"]: rec["created"]})
        p.execute()

    def get(self, job_id: str) -> dict[str, Any] | None:
        raw = self.r.hgetall(self.k(job_id))
        if not raw:
            return None
        return {k.decode(): json.loads(v) for k, v in raw.items()}

    def update(self, job_id: str, **fields: Any) -> None:
        p = self.r.pipeline()
        p.hset(self.k(job_id), mapping={f: json.dumps(v) for f, v in fields.items()})
        if fields.get("status") in DONE:
            p.zrem(self.QUEUED, job_id)
            ttl = fields.get("ttl") or self.get_ttl(job_id)
            if ttl:
                p.expire(self.k(job_id), int(ttl))
        p.execute()

    def get_ttl(self, job_id: str) -> int:
        v = self.r.hget(self.k(job_id), "ttl")
        return int(json.loads(v)) if v else DEFAULT_TTL

    def _transition(self, job_id: str, frm: str, to: str, **fields: Any) -> bool:
        import redis

        key = self.k(job_id)
        with self.r.pipeline() as p:
            try:
                p.watch(key)
                status = p.hget(key, "status")
                if status is None or json.loads(status) != frm:
                    p.unwatch()
                    return False
                p.multi()
                p.hset(key, mapping={"status": json.dumps(to),
                                     **{f: json.dumps(v) for f, v in fields.items()}})
                p.zrem(self.QUEUED, job_id)
                if to in DONE:
                    p.expire(key, self.get_ttl(job_id) or DEFAULT_TTL)
                p.execute()
                return True
            except redis.WatchError:
                return False

    def claim(self, job_id: str, worker: str) -> bool:
        return self._transition(job_id, "queued", "started", started=time.time(),
                                worker=worker)

    def cancel(self, job_id: str) -> bool:
        return self._transition(job_id, "queued", "canceled", ended=time.time())

    def position(self, rec: dict[str, Any]) -> int | None:
        if rec["status"] != "queued":
            return None
        rank = self.r.zrank(self.QUEUED, rec["id"])
        return None if rank is None else int(rank)

    def recent(self, limit: int) -> list[dict[str, Any]]:
        ids = [i.decode() for i in self.r.zrevrange(self.ALL, 0, limit * 2)]
        out = []
        for job_id in ids:
            rec = self.get(job_id)
            if rec is None:
                self.r.zrem(self.ALL, job_id)  # expired
            elif len(out) < limit:
                out.append(rec)
        return out


def _redis_error() -> tuple[type[BaseException], ...]:
    try:
        import redis
    except ImportError:
        return ()
    return (redis.ConnectionError, redis.TimeoutError)


def store() -> JobStore:
    key = _key()
    with _lock:
        s = _stores.get(key)
        if s is None:
            s = RedisJobStore(key[1]) if key[1] else SqliteJobStore(config.home() / "jobs.db")
            _stores[key] = s
    return s


def queue() -> Any:
    """The huey instance for this `$OCA_HOME` / `OCA_QUEUE_URL`, with the job task registered."""
    key = _key()
    with _lock:
        h = _queues.get(key)
        if h is None:
            try:
                if key[1]:
                    from huey import RedisHuey

                    h = RedisHuey(QUEUE_NAME, url=key[1], results=False,
                                  serializer=_serializer())
                else:
                    from huey import SqliteHuey

                    h = SqliteHuey(QUEUE_NAME, filename=str(config.home() / "queue.db"),
                                   results=False, serializer=_serializer())
            except ImportError as e:
                raise Unavailable("the job queue needs huey",
                                  hint="pip install 'oca[serve]'") from e
            h._oca_task = h.task(name=TASK_NAME)(run)
            _queues[key] = h
    return h


def _guard(fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except _redis_error() as e:
        raise Unavailable(f"the job queue at {queue_url()} is unreachable: {e}",
                          hint="start Redis, or unset OCA_QUEUE_URL for the embedded queue") from e


# -- uploads ----------------------------------------------------------------------------------

def uploads_dir() -> Path:
    path = config.home() / "uploads"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _stash(job_id: str, params: dict[str, Any]) -> dict[str, Any]:
    """Bytes params → files under $OCA_HOME/uploads, referenced by name."""
    out: dict[str, Any] = {}
    for k, v in params.items():
        if isinstance(v, bytes | bytearray | memoryview):
            name = f"{job_id}-{k}"
            (uploads_dir() / name).write_bytes(bytes(v))
            out[k] = {UPLOAD_TAG: name}
        else:
            out[k] = v
    return out


def _unstash(params: dict[str, Any]) -> tuple[dict[str, Any], list[Path]]:
    out: dict[str, Any] = {}
    files: list[Path] = []
    for k, v in params.items():
        if isinstance(v, dict) and set(v) == {UPLOAD_TAG}:
            path = uploads_dir() / Path(str(v[UPLOAD_TAG])).name
            files.append(path)
            try:
                out[k] = path.read_bytes()
            except FileNotFoundError as e:
                raise Unavailable(f"the upload of this job is gone: {path}",
                                  hint="workers must share $OCA_HOME/uploads with the server"
                                  ) from e
        else:
            out[k] = v
    return out, files


# -- the core functions -----------------------------------------------------------------------

def _public(rec: dict[str, Any], position: int | None) -> dict[str, Any]:
    return {
        "id": rec["id"], "status": rec["status"], "queue": rec["queue"], "position": position,
        "result": rec.get("result"), "error": rec.get("error"), "service": rec["service"],
        "op": rec["op"], "created_at": rec.get("created"), "started_at": rec.get("started"),
        "ended_at": rec.get("ended"),
    }


def enqueue(service: Any, op: str, params: dict[str, Any] | None = None,
            ttl: int = DEFAULT_TTL) -> dict[str, Any]:
    """Queue `call(service, op, **params)`; returns upstream's ticket {id, status, queue, position}.

    `service` is a Service or a name/id. Bytes params (uploads) are stored as files.
    Scope CLIs use this for `--async`.
    """
    from oca import calls
    from oca.registry import Registry

    svc = Registry().get(service) if isinstance(service, str) else service
    calls.operation(calls.driver_for(svc), op)  # fail now, not in the worker
    if not isinstance(ttl, int) or ttl < 0:
        raise BadInput(f"invalid ttl {ttl!r}: expected seconds >= 0")
    job_id = str(uuid.uuid4())
    params = _stash(job_id, dict(params or {}))
    rec = {"id": job_id, "status": "queued", "queue": svc.name, "service": svc.id, "op": op,
           "params": params, "result": None, "error": None, "ttl": ttl or DEFAULT_TTL,
           "created": time.time(), "started": None, "ended": None, "expires": None}
    s = store()
    created = False
    try:
        try:
            json.dumps(params)
        except TypeError as e:
            raise BadInput(f"job parameters must be JSON: {e}") from e
        _guard(s.create, rec)
        created = True
        _guard(queue()._oca_task, job_id)
    except BaseException as e:
        _discard_uploads(params)
        if created:  # recorded but not queued: nobody would ever run it
            end = time.time()
            reason = e.to_dict() if isinstance(e, OcaError) else {
                "type": "internal", "message": f"{type(e).__name__}: {e}", "hint": None}
            _try(s.update, job_id, status="failed", error=reason, ended=end,
                 expires=end + rec["ttl"])
        raise
    pos = _guard(s.position, rec)
    return {"id": job_id, "status": "queued", "queue": svc.name, "position": pos}


def _discard_uploads(params: dict[str, Any]) -> None:
    for v in params.values():
        if isinstance(v, dict) and set(v) == {UPLOAD_TAG}:
            (uploads_dir() / Path(str(v[UPLOAD_TAG])).name).unlink(missing_ok=True)


def _try(fn: Any, *args: Any, **kwargs: Any) -> None:
    try:
        fn(*args, **kwargs)
    except Exception:  # noqa: BLE001 - best effort while reporting another error
        pass


def run(job_id: str) -> None:
    """The worker side: one job → one `call()`; the outcome (result or reason) is stored."""
    from oca import calls

    s = store()
    if not s.claim(job_id, worker_name()):
        return  # canceled, expired, or already taken by another worker
    rec = s.get(job_id) or {}
    files: list[Path] = []
    try:
        params, files = _unstash(rec.get("params") or {})
        result = calls.call(rec["service"], rec["op"], **params)
        result = json.loads(json.dumps(result, default=str))
        outcome: dict[str, Any] = {"status": "finished", "result": result}
    except OcaError as e:
        outcome = {"status": "failed", "error": e.to_dict()}
    except Exception as e:  # noqa: BLE001 - a driver bug fails the job, with the reason
        outcome = {"status": "failed",
                   "error": {"type": "internal", "message": f"{type(e).__name__}: {e}",
                             "hint": None}}
    finally:
        for f in files:
            f.unlink(missing_ok=True)
    end = time.time()
    s.update(job_id, **outcome, ended=end, expires=end + (rec.get("ttl") or DEFAULT_TTL),
             ttl=rec.get("ttl") or DEFAULT_TTL)


def check() -> None:
    """Raise Unavailable now if the queue cannot be reached (before serving)."""
    queue()
    _guard(store().recent, 1)


def get(job_id: str) -> dict[str, Any]:
    s = store()
    rec = _guard(s.get, job_id)
    if rec is None:
        raise JobNotFound(job_id)
    return _public(rec, _guard(s.position, rec))


def ls(limit: int = 50) -> list[dict[str, Any]]:
    s = store()
    recs = _guard(s.recent, limit)
    return [_public(r, None if r["status"] != "queued" else _guard(s.position, r)) for r in recs]


def cancel(job_id: str) -> dict[str, Any]:
    s = store()
    rec = _guard(s.get, job_id)
    if rec is None:
        raise JobNotFound(job_id)
    if not _guard(s.cancel, job_id):
        current = get(job_id)
        raise Conflict(f"job {job_id} is {current['status']}, only queued jobs can be canceled")
    _discard_uploads(rec.get("params") or {})
    return get(job_id)


def wait(job_id: str, timeout: float | None = None, interval: float = 0.05) -> dict[str, Any]:
    """Poll until the job ends; Timeout after `timeout` seconds."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        job = get(job_id)
        if job["status"] in DONE:
            return job
        if deadline is not None and time.monotonic() >= deadline:
            raise Timeout(f"job {job_id} is still {job['status']} after {timeout:g} s",
                          hint=f"wait longer, or check that a worker runs (`oca worker`); "
                               f"`oca job show {job_id}`")
        time.sleep(interval)
        interval = min(interval * 1.5, 0.5)


def job_error(job: dict[str, Any]) -> OcaError:
    """The error a failed (or canceled) job ended with, as the oca error of its type."""
    from oca import errors

    err = job.get("error") or {}
    if job["status"] == "canceled":
        return Conflict(f"job {job['id']} was canceled")
    cls = errors.error_class(str(err.get("type")))
    return cls(f"job {job['id']} failed: {err.get('message', 'no reason given')}",
               hint=err.get("hint"))


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def recover() -> list[str]:
    """Jobs left `started` by a worker of this host that died (killed mid-job) end `failed`
    with that reason; they are not re-run, since the call may have had effects already.
    Returns their ids. Called when a consumer starts."""
    s = store()
    host = socket.gethostname()
    failed = []
    for rec in _guard(s.started):
        who, _, pid = str(rec.get("worker") or "").rpartition(":")
        if who != host or not pid.isdigit() or _alive(int(pid)):
            continue
        end = time.time()
        ttl = rec.get("ttl") or DEFAULT_TTL
        s.update(rec["id"], status="failed", ended=end, expires=end + ttl, ttl=ttl, error={
            "type": "unavailable", "message": f"the worker running this job died (pid {pid})",
            "hint": "run the call again if it is safe to repeat"})
        failed.append(rec["id"])
    return failed


def consumer(workers: int = 2, embedded: bool = False) -> Any:
    """A huey consumer of this queue (threads). `embedded` leaves signal handling to the host."""
    from huey.consumer import Consumer

    class EmbeddedConsumer(Consumer):
        def _set_signal_handlers(self) -> None:
            pass

    cls = EmbeddedConsumer if embedded else Consumer
    recover()
    # Poll the SQLite queue often (a job should start within ~0.25 s); Redis blocks instead.
    # On shutdown, running jobs get 10 s; a job cut off then is failed by recover().
    return cls(queue(), workers=workers, worker_type="thread", periodic=False,
               initial_delay=0.02, backoff=1.3, max_delay=0.25, check_worker_health=True,
               shutdown_timeout=10)
