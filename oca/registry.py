"""The service registry: TinyDB in `$OCA_HOME/registry.json`.

Safe under concurrency and crashes: every change holds a file lock for the whole
read-modify-write, and the file is replaced atomically (temp file, fsync, rename), so a
process killed mid-write leaves the previous or the next version, never a torn one.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tinydb import Query, TinyDB
from tinydb.storages import Storage

from oca import config
from oca.errors import BadInput, Conflict, OcaError, ServiceNotFound
from oca.ids import new_id
from oca.models import Service, ServiceBase, ServiceUpdate, now

LOCK_TIMEOUT = 30.0
_read_cache: dict[str, tuple[tuple[int, int, int], list[dict[str, Any]]]] = {}


class AtomicJSONStorage(Storage):
    """TinyDB storage that writes through a temp file and an atomic rename."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def read(self) -> dict[str, Any] | None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        if not text.strip():
            return None
        try:
            return json.loads(text)
        except json.JSONDecodeError as e:
            raise OcaError(
                f"registry {self.path} is not valid JSON ({e})",
                hint="restore it from a backup or move it aside",
            ) from e

    def write(self, data: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".registry-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f, indent=1, sort_keys=True)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        dirfd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dirfd)
        finally:
            os.close(dirfd)

    def close(self) -> None:
        pass


def _default_path() -> Path:
    """`config.registry_path()`, resolved once per OCA_HOME (it creates the folder: a
    syscall per request in `oca serve` otherwise)."""
    key = (os.environ.get("OCA_HOME", ""), os.environ.get("XDG_DATA_HOME", ""))
    path = _paths.get(key)
    if path is None:
        path = _paths[key] = config.registry_path()
    return path


_paths: dict[tuple[str, str], Path] = {}


class Registry:
    """Services by id and by unique name."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or _default_path()

    @contextmanager
    def _open(self, write: bool) -> Iterator[Any]:
        if write:
            from filelock import FileLock  # writers only: readers never lock

            with FileLock(str(self.path) + ".lock", timeout=LOCK_TIMEOUT):
                db = TinyDB(self.path, storage=AtomicJSONStorage)
                yield db.table("services")
        else:
            # Readers need no lock: the file is only ever replaced whole.
            db = TinyDB(self.path, storage=AtomicJSONStorage)
            yield db.table("services")

    def _rows(self) -> list[dict[str, Any]]:
        """All records, read without a lock and cached while the file is unchanged.

        Writers replace the file whole (a new inode), so (inode, mtime, size) changes with
        every write; a long-running `oca serve` then skips re-parsing on every request.
        """
        where = str(self.path)
        try:
            st = os.stat(where)
        except FileNotFoundError:
            return []
        key = (st.st_ino, st.st_mtime_ns, st.st_size)
        hit = _read_cache.get(where)
        if hit is not None and hit[0] == key:
            return hit[1]
        data = AtomicJSONStorage(self.path).read() or {}
        rows = list((data.get("services") or {}).values())
        _read_cache[where] = (key, rows)
        return rows

    def list(self, scope: str | None = None) -> list[Service]:
        services = [Service.model_validate(r) for r in self._rows()]
        services.sort(key=lambda s: (s.created_at, s.name))
        return [s for s in services if scope is None or s.scope == scope]

    def get(self, ref: str) -> Service:
        """A service by id or by name."""
        rows = [r for r in self._rows() if r.get("id") == ref or r.get("name") == ref]
        if not rows:
            raise ServiceNotFound(ref)
        rows.sort(key=lambda r: r["id"] != ref)  # an id match wins over a name match
        return Service.model_validate(rows[0])

    def add(self, base: ServiceBase, sid: str | None = None) -> Service:
        with self._open(write=True) as t:
            q = Query()
            if t.contains(q.name == base.name):
                raise Conflict(
                    f"service already exists: {base.name}",
                    hint="pick another name, or remove it with `oca service rm`",
                )
            if sid is not None and t.contains(q.id == sid):
                raise Conflict(f"service id already taken: {sid}")
            for _ in range(100):
                if sid is not None:
                    break
                candidate = new_id()
                if not t.contains(q.id == candidate):
                    sid = candidate
            if sid is None:  # pragma: no cover - 20^4 * 5^4 ids
                raise OcaError("could not allocate a free service id")
            svc = Service(id=sid, **base.model_dump())
            t.insert(svc.model_dump())
        return svc

    def update(self, ref: str, changes: ServiceUpdate | dict[str, Any]) -> Service:
        if isinstance(changes, ServiceUpdate):
            fields = changes.model_dump(exclude_unset=True)
        else:
            fields = dict(changes)
        with self._open(write=True) as t:
            q = Query()
            rows = t.search((q.id == ref) | (q.name == ref))
            if not rows:
                raise ServiceNotFound(ref)
            rows.sort(key=lambda r: r["id"] != ref)
            current = rows[0]
            new_name = fields.get("name")
            if new_name and new_name != current["name"] and t.contains(q.name == new_name):
                raise Conflict(f"service already exists: {new_name}")
            merged = {**current, **fields, "updated_at": now()}
            try:
                svc = Service.model_validate(merged)
            except ValueError as e:
                raise BadInput(f"invalid service update: {e}") from e
            t.update(svc.model_dump(), q.id == current["id"])
        return svc

    def remove(self, ref: str) -> Service:
        with self._open(write=True) as t:
            q = Query()
            rows = t.search((q.id == ref) | (q.name == ref))
            if not rows:
                raise ServiceNotFound(ref)
            rows.sort(key=lambda r: r["id"] != ref)
            svc = Service.model_validate(rows[0])
            t.remove(q.id == svc.id)
        return svc
