"""Service API (upstream's `service_api`): `/ai`, `/db`, `/media` calls of one service.

Each route names a scope operation (oca/contract/<scope>.py) and its parameters; `run()`
picks the service (`oca.services.pick`, which checks the scope), then either calls it now
(`sync=true`: `oca.calls.call`, the CLI's path) or queues it (`oca.jobs.enqueue`, the
same call run later by a worker) and returns upstream's job ticket.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi import APIRouter, File, Query, UploadFile

from oca.api.schemas import (
    AIModelMeta,
    InputFile,
    ModelName,
    Pipeline,
    RecordDMLOptions,
    Table,
)

router = APIRouter(tags=["service_api"])

SYNC = Query(False, description="Call now and return the result; else queue a job.")
TTL = Query(3600, ge=0, le=30 * 86400, description="Seconds a job's result is kept.")


def run(scope: str, service_id: str, op: str, params: dict[str, Any], sync: bool,
        ttl: int) -> Any:
    from oca import services

    svc = services.pick(scope, service_id)
    if sync:
        from oca.calls import call

        return call(svc, op, **params)
    from oca import jobs

    return jobs.enqueue(svc, op, params, ttl=ttl)


# -- ai ---------------------------------------------------------------------------------------

@router.get("/ai/{service_id}/usage", summary="What the AI backend serves")
def usage(service_id: str, sync: bool = SYNC, ttl: int = TTL) -> Any:
    return run("ai", service_id, "usage", {}, sync, ttl)


@router.post("/ai/{service_id}/serve", summary="Load a model")
def serve(service_id: str, body: AIModelMeta, sync: bool = SYNC, ttl: int = TTL) -> Any:
    return run("ai", service_id, "serve", body.model_dump(exclude_none=True), sync, ttl)


@router.post("/ai/{service_id}/predict", summary="Classify an uploaded image")
def predict(service_id: str, image_file: UploadFile = File(...), sync: bool = SYNC,
            ttl: int = TTL,
            model: str | None = Query(None, description="oca: model name (default: the "
                                      "service's default)"),
            top_k: int = Query(5, ge=1, le=100, description="oca: labels per image")) -> Any:
    params: dict[str, Any] = {"img": image_file.file.read(), "top_k": top_k}
    if model:
        params["model"] = model
    return run("ai", service_id, "predict", params, sync, ttl)


@router.get("/ai/{service_id}/models", summary="oca: models the backend knows")
def models(service_id: str, sync: bool = SYNC, ttl: int = TTL) -> Any:
    return run("ai", service_id, "models", {}, sync, ttl)


@router.post("/ai/{service_id}/unload", summary="oca: unload a model")
def unload(service_id: str, body: ModelName, sync: bool = SYNC, ttl: int = TTL) -> Any:
    return run("ai", service_id, "unload", {"name": body.name}, sync, ttl)


# -- db ---------------------------------------------------------------------------------------

@router.get("/db/{service_id}/table", summary="List tables")
def list_table(service_id: str, sync: bool = SYNC, ttl: int = TTL) -> Any:
    return run("db", service_id, "list_tables", {}, sync, ttl)


@router.post("/db/{service_id}/table", summary="Create a table")
def post_table(service_id: str, body: Table, sync: bool = SYNC, ttl: int = TTL) -> Any:
    return run("db", service_id, "create_table", body.model_dump(exclude_none=True), sync, ttl)


@router.get("/db/{service_id}/table/{table_name}", summary="Describe a table")
def describe_table(service_id: str, table_name: str, sync: bool = SYNC, ttl: int = TTL) -> Any:
    return run("db", service_id, "describe_table", {"table": table_name}, sync, ttl)


def _dql(text: str) -> Any:
    from oca.errors import BadInput

    if not text:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise BadInput(f"dql_options is not valid JSON: {e.msg} at column {e.colno}",
                       hint='e.g. {"where": {"id": 1}, "limit": 10}') from e


@router.get("/db/{service_id}/table/{table_name}/record", summary="Select records")
def list_records(service_id: str, table_name: str, dql_options: str = "", sync: bool = SYNC,
                 ttl: int = TTL) -> Any:
    return run("db", service_id, "select", {"table": table_name, "dql": _dql(dql_options)},
               sync, ttl)


def _dml(op: str, table: str, body: RecordDMLOptions) -> dict[str, Any]:
    """The body's keys that `op` takes (upstream sent every key; drivers ignored the rest)."""
    from oca.contract import scope_contract

    takes = scope_contract("db").operations[op].params
    data = {"table": table, **body.model_dump(exclude_none=True)}
    return {k: v for k, v in data.items() if k in takes}


@router.post("/db/{service_id}/table/{table_name}/record", summary="Insert records")
def create_records(service_id: str, table_name: str, body: RecordDMLOptions,
                   sync: bool = SYNC, ttl: int = TTL) -> Any:
    return run("db", service_id, "insert", _dml("insert", table_name, body), sync, ttl)


@router.put("/db/{service_id}/table/{table_name}/record", summary="Update records")
def update_records(service_id: str, table_name: str, body: RecordDMLOptions,
                   sync: bool = SYNC, ttl: int = TTL) -> Any:
    return run("db", service_id, "update", _dml("update", table_name, body), sync, ttl)


@router.delete("/db/{service_id}/table/{table_name}/record", summary="Delete records")
def delete_records(service_id: str, table_name: str, body: RecordDMLOptions,
                   sync: bool = SYNC, ttl: int = TTL) -> Any:
    return run("db", service_id, "delete", _dml("delete", table_name, body), sync, ttl)


# -- media ------------------------------------------------------------------------------------

@router.post("/media/{service_id}/probe", summary="Probe a media source")
def probe(service_id: str, body: InputFile, sync: bool = SYNC, ttl: int = TTL) -> Any:
    return run("media", service_id, "probe", body.model_dump(exclude_none=True), sync, ttl)


@router.post("/media/{service_id}/pipeline", summary="Start a transcoding pipeline")
def transcode(service_id: str, body: Pipeline, sync: bool = SYNC, ttl: int = TTL) -> Any:
    # exclude_unset, not exclude_none: an explicit `"ttl": null` means "keep the outputs".
    return run("media", service_id, "create_pipeline", body.model_dump(exclude_unset=True),
               sync, ttl)


@router.get("/media/{service_id}/pipeline/{pipeline_id}", summary="Status of a pipeline")
def get_outputs(service_id: str, pipeline_id: str, sync: bool = SYNC, ttl: int = TTL,
                wait: float | None = Query(None, ge=0, le=300, description=(
                    "oca: long-poll up to this many seconds for a change"))) -> Any:
    params: dict[str, Any] = {"pipeline_id": pipeline_id}
    if wait is not None:
        params["wait"] = wait
    return run("media", service_id, "pipeline_status", params, sync, ttl)


@router.get("/media/{service_id}/pipeline", summary="oca: pipelines the backend knows")
def list_pipelines(service_id: str, sync: bool = SYNC, ttl: int = TTL) -> Any:
    return run("media", service_id, "list_pipelines", {}, sync, ttl)


@router.post("/media/{service_id}/upload",
             summary="oca: send a media file to the backend; returns the source to use")
def upload(service_id: str, file: UploadFile = File(...), sync: bool = SYNC,
           ttl: int = TTL) -> Any:
    name = Path(file.filename or "upload").name
    return run("media", service_id, "upload", {"file": file.file.read(), "name": name}, sync,
               ttl)


@router.delete("/media/{service_id}/pipeline/{pipeline_id}", summary="Stop a pipeline")
def delete_pipeline(service_id: str, pipeline_id: str, sync: bool = SYNC,
                    ttl: int = TTL) -> Any:
    return run("media", service_id, "stop_pipeline", {"pipeline_id": pipeline_id}, sync, ttl)
