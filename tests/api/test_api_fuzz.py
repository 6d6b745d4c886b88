"""A bounded schemathesis run over oca's own OpenAPI: no input makes the server answer ≥ 500.

Cases come from the schema; half of them get a real service id (echo-db, echo-ai,
echo-media, sqlite) so the fuzzer reaches the drivers, not only the 404s. Every error
must also use the one pinned error shape.
"""

from __future__ import annotations

import json

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

EXAMPLES = 15


@pytest.fixture
def fuzz_env(oca_home, echo_id: str, sqlite_id: str, scope_service, monkeypatch):  # noqa: ANN001, ANN201
    from oca.api.app import create_app

    monkeypatch.delenv("OCA_API_TOKEN", raising=False)
    ids = {"db": [echo_id, sqlite_id], "ai": [scope_service("ai")],
           "media": [scope_service("media")]}
    app = create_app(worker=False)
    return schemathesis.openapi.from_asgi("/openapi.json", app), ids


@pytest.mark.slow
def test_no_server_errors(fuzz_env) -> None:  # noqa: ANN001
    schema, ids = fuzz_env
    all_ids = [i for v in ids.values() for i in v]
    failures: list[str] = []
    seen: dict[int, int] = {}
    for result in schema.get_all_operations():
        op = result.ok()

        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(case=op.as_strategy(), pick=st.sampled_from([*all_ids, None]))
        def run(case, pick) -> None:  # noqa: ANN001
            if pick is not None and case.path_parameters and "service_id" in case.path_parameters:
                case.path_parameters["service_id"] = pick
            r = case.call()
            seen[r.status_code] = seen.get(r.status_code, 0) + 1
            if r.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} -> {r.status_code}: "
                                f"{r.text[:300]}")
            elif r.status_code >= 400 and r.status_code != 405:
                body = json.loads(r.text)
                assert set(body) == {"endpoint", "status", "error"}, r.text
                assert {"type", "message", "hint"} <= set(body["error"]), r.text

        run()
    print("schemathesis statuses:", dict(sorted(seen.items())))
    assert not failures, "\n".join(failures[:20])
    assert seen.get(200, 0) > 50 and seen.get(404, 0) > 0 and seen.get(422, 0) > 0, seen
