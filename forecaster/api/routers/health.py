"""``/healthz`` (the process answers), ``/readyz`` (the store answers; age of the last good run),
``/metrics`` (Prometheus text). No auth: probes and scrapers carry no keys, and these reveal no data."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from ...store import reads, runs
from ...store.db import DatabaseError, utcnow

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness: the process answers")
async def healthz() -> dict:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: the store answers; age of the newest ok run",
            responses={503: {"description": "the store does not answer"}})
def readyz(request: Request):
    rt = request.app.state.runtime
    try:
        cur = rt.cursor()
        version = reads.ping(cur)
        last = reads.latest_ok_finished(cur)
    except DatabaseError as e:
        return JSONResponse({"error": {"code": "unavailable", "message": f"store not reachable: {e}"}}, status_code=503)
    body: dict[str, Any] = {"status": "ready", "schema_version": version, "last_ok_run": None}
    if last:
        body["last_ok_run"] = {"kind": last[0], "finished": last[1].isoformat(),
                               "age_s": round((utcnow() - last[1]).total_seconds(), 1)}
    return body


@router.get("/metrics", response_class=PlainTextResponse, summary="Prometheus metrics (text format 0.0.4)")
def metrics(request: Request) -> PlainTextResponse:
    cur = request.app.state.runtime.cursor()
    text = request.app.state.metrics.render(runs.counts_by_status(cur), runs.step_durations(cur), reads.rows_ingested(cur))
    return PlainTextResponse(text, media_type="text/plain; version=0.0.4; charset=utf-8")
