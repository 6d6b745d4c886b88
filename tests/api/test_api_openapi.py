"""The committed OpenAPI file is generated from the app (`python -m oca.api.openapi`)."""

from __future__ import annotations

import json

from oca.api import openapi


def test_openapi_file_is_current() -> None:
    assert openapi.TARGET.exists(), "run `python -m oca.api.openapi`"
    assert openapi.TARGET.read_text() == openapi.render(), (
        "docs/api-reference/openapi.json is stale: run `python -m oca.api.openapi`")


def test_openapi_documents_the_error_shape_and_jobs() -> None:
    spec = json.loads(openapi.TARGET.read_text())
    assert spec["info"]["version"]
    assert "/job/{job_id}" in spec["paths"]
    assert "sync" in {p["name"] for p in spec["paths"]["/ai/{service_id}/usage"]["get"]
                      ["parameters"]}
