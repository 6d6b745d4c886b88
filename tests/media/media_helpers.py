"""Helpers for the media tests (imported by conftest and the test modules)."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *args], check=True,
                   timeout=120)


def ffprobe(path: Path | str) -> dict:
    p = subprocess.run(["ffprobe", "-v", "error", "-show_format", "-show_streams", "-of",
                        "json", str(path)], capture_output=True, check=True, timeout=30)
    return json.loads(p.stdout)


@dataclass
class Backend:
    url: str
    port: int
    data: Path
    proc: subprocess.Popen


def children_ffmpeg(parent: int) -> list[int]:
    """Pids of live pipeline ffmpeg processes (not capability listings) of `parent`."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name = text[text.find("(") + 1:text.rfind(")")]
        fields = text[text.rfind(")") + 2:].split()
        if name == "ffmpeg" and int(fields[1]) == parent and fields[0] != "Z":
            try:
                cmdline = (stat.parent / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"-progress" in cmdline:
                found.append(int(stat.parent.name))
    return found
