"""What the backend's ffmpeg can do: encoder, decoder, filter, muxer and demuxer names (cached)."""

from __future__ import annotations

import re
import shutil
import subprocess
import threading

from oca.errors import Unavailable

_LOCK = threading.Lock()
_NAME = re.compile(r"^[\w-]+$")
_CACHE: dict[str, frozenset[str]] = {}
# `ffmpeg -encoders` lines: " V....D libx264   description"; muxers: "  E mp4   description";
# filters: " ..C scale   V->V   description".
_LINE = {
    "encoders": re.compile(r"^ [VASD.][A-Z.]{5} (\S+)"),
    "decoders": re.compile(r"^ [VASD.][A-Z.]{5} (\S+)"),
    "filters": re.compile(r"^ [T.][S.][C.] (\S+)\s+\S+->\S+"),
    "muxers": re.compile(r"^ [D ]E (\S+)"),
    "demuxers": re.compile(r"^ D[E ] (\S+)"),
}


def binary(name: str = "ffmpeg") -> str:
    path = shutil.which(name)
    if not path:
        raise Unavailable(f"{name} is not installed on the media backend",
                          hint="install Debian's ffmpeg package (apt-get install ffmpeg)")
    return path


def names(kind: str) -> frozenset[str]:
    """The `kind` names (`encoders`, `decoders`, `filters`, `muxers`, `demuxers`) of ffmpeg."""
    with _LOCK:
        if kind not in _CACHE:
            p = subprocess.run(  # noqa: S603 - an argument list
                [binary(), "-hide_banner", f"-{kind}"], capture_output=True, text=True,
                timeout=30, stdin=subprocess.DEVNULL,
            )
            found: set[str] = set()
            for line in p.stdout.splitlines():
                m = _LINE[kind].match(line)
                if m:
                    found.update(n for n in m.group(1).split(",") if _NAME.match(n))
            if not found:
                raise Unavailable(f"cannot list ffmpeg {kind}: {p.stderr.strip()[-200:]}")
            _CACHE[kind] = frozenset(found)
        return _CACHE[kind]


def version() -> str:
    with _LOCK:
        if "version" not in _CACHE:
            _CACHE["version"] = frozenset([_version()])
        return next(iter(_CACHE["version"]))


def _version() -> str:
    p = subprocess.run([binary(), "-hide_banner", "-version"],  # noqa: S603
                       capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    first = p.stdout.splitlines()[0] if p.stdout else ""
    parts = first.split()
    return parts[2] if len(parts) > 2 else first
