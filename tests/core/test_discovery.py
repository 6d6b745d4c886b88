"""Driver discovery and app/version matching."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from oca import discovery
from oca.errors import BadInput


@pytest.mark.parametrize(("spec", "version", "ok"), [
    ("==3.11.9", "3.11.9", True),
    ("==3.11", "3.11.0", True),
    ("==v1-custom", "v1-custom", True),  # upstream: exact string equality
    (">=3.1.1", "3.11.9", True),
    (">=3.1.1", "3.0", False),
    ("<=0.2", "0.1.0", True),
    ("<=0.2", "0.3", False),
    ("~=15.0", "15.4", True),
    (">=14,<16", "15", True),
    (">=14,<16", "16.1", False),
    (">=1", "not-a-version", False),
])
def test_version_matching(spec: str, version: str, ok: bool) -> None:
    assert discovery.version_matches(spec, version) is ok


def write_driver(root: Path, folder: str, **fields: object) -> Path:
    d = root / folder
    d.mkdir(parents=True)
    (d / "metadata.json").write_text(json.dumps(fields))
    return d


def test_plugin_folder_is_scanned_and_matched(oca_home: Path) -> None:
    write_driver(oca_home / "drivers", "mine-1.0.0", name="mine", version="1.0.0", app="thing",
                 app_version_match=">=2", scope="media")
    found = {d.ref: d for d in discovery.all_drivers()}
    assert found["mine-1.0.0"].source_type == "plugin"
    assert [d.ref for d in discovery.matching_drivers("thing", "2.5")] == ["mine-1.0.0"]
    assert discovery.matching_drivers("thing", "1.9") == []
    assert discovery.get_driver("mine").ref == "mine-1.0.0"


def test_metadata_errors_name_the_field(tmp_path: Path) -> None:
    d = write_driver(tmp_path, "x", name="x", version="1", app="a", scope="db")
    with pytest.raises(BadInput, match="app_version_match"):
        discovery.read_metadata(d, "plugin")
    d2 = write_driver(tmp_path, "y", name="y", version="1", app="a", scope="db",
                      app_version_match="=>banana")
    with pytest.raises(BadInput, match="app_version_match"):
        discovery.read_metadata(d2, "plugin")
