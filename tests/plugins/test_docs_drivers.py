"""docs/drivers.md is a tutorial whose every block runs: scaffold → MariaDB driver → `oca db`.

`sh` blocks are run line by line (each line one `oca` command, in a scratch folder);
`file=PATH` blocks are written to that path; a `console` block is the exact stdout of the
command just before it. The MariaDB backend is real (Debian's mariadb-server in a container,
from the recipe compose/mariadb).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "drivers.md"
FENCE = re.compile(r"^```(\w*)([^\n]*)\n(.*?)^```", re.M | re.S)


def blocks() -> list[tuple[str, str, str]]:
    return [(m.group(1), m.group(2).strip(), m.group(3)) for m in FENCE.finditer(DOC.read_text())]


def test_every_python_block_compiles() -> None:
    found = [body for lang, _, body in blocks() if lang == "python"]
    assert len(found) >= 2
    for body in found:
        compile(body, "docs/drivers.md", "exec")


def test_every_driver_command_and_setting_is_documented() -> None:
    from oca.cli.driver import app

    text = DOC.read_text()
    for cmd in app.registered_commands:
        assert f"oca driver {cmd.name}" in text, f"undocumented: oca driver {cmd.name}"
    for setting in ("OCA_PLUGINS", "OCA_PLUGINS_DIR", "oca.drivers", "--rest", "--kind container"):
        assert setting in text, f"docs/drivers.md does not document {setting}"


def test_the_tutorial_runs(docker_engine: None, tmp_path: Path, oca_home: Path) -> None:
    pytest.importorskip("pymysql")
    env = {**os.environ, "OCA_HOME": str(oca_home)}
    last: subprocess.CompletedProcess[str] | None = None
    ran: list[str] = []
    try:
        for lang, info, body in blocks():
            if info.startswith("file="):
                path = tmp_path / info.removeprefix("file=")
                assert path.parent.is_dir(), f"{path.parent} should exist by now (scaffolded)"
                path.write_text(body)
            elif lang == "sh":
                for line in body.splitlines():
                    if not line.strip() or line.lstrip().startswith("#"):
                        continue
                    args = shlex.split(line)
                    assert args[0] == "oca", line
                    last = subprocess.run([sys.executable, "-m", "oca", *args[1:]], cwd=tmp_path,
                                          env=env, capture_output=True, text=True, timeout=300)
                    ran.append(line)
                    assert last.returncode == 0, f"{line}\n{last.stdout}\n{last.stderr}"
            elif lang == "console":
                assert last is not None
                assert last.stdout == body, f"after {ran[-1]}:\n{last.stdout!r}\n!=\n{body!r}"
    finally:
        subprocess.run([sys.executable, "-m", "oca", "service", "rm", "shop", "--purge"],
                       env=env, capture_output=True, timeout=120)
    # What the tutorial promised: the scaffold passed, the real driver passed, the service
    # picked the plugin by app/version.
    assert "oca driver test mariadb-driver --service shop" in ran
    assert any(line.startswith("oca db select") for line in ran)
    assert not (oca_home / "drivers" / "mariadb-driver-0.1.0").exists()  # `driver rm` at the end
