"""``POST /v1/ingest``: upload a log file (admin). The body is the file's bytes (any supported
format, gzip or not), streamed to ``upload_dir`` and refused past ``api_upload_max_mb`` (413);
then it is loaded as a source like any other (the same bytes twice add nothing)."""

from __future__ import annotations

import contextlib
import os
import re
import uuid
from pathlib import Path
from typing import Optional

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from ...errors import BadInput, TooLarge
from ..auth import require_role

router = APIRouter(prefix="/v1", tags=["ingest"])


def upload_dir(settings) -> Path:
    d = Path(settings.upload_dir) if settings.upload_dir else Path(settings.db).resolve().parent / "uploads"
    d.mkdir(parents=True, exist_ok=True)
    return d


@router.post("/ingest", summary="Upload a log file (raw body) and load it",
             openapi_extra={"requestBody": {"content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
                                            "required": True}},
             responses={413: {"description": "larger than api_upload_max_mb"}})
async def ingest_upload(request: Request, name: str = Query("upload.log", description="file name (kept in the source's uri)"),
                        format: Optional[str] = Query(None, description="log format name (default: auto-detected)"),
                        key=Depends(require_role("admin"))) -> dict:
    rt = request.app.state.runtime
    limit = int(rt.settings.api_upload_max_mb * 1024 * 1024)
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise BadInput(f"Content-Length must be a number of bytes, got {declared[:20]!r}")
        if int(declared) > limit:
            raise TooLarge(f"upload of {int(declared):,} bytes is larger than api_upload_max_mb "
                           f"({rt.settings.api_upload_max_mb:g} MB = {limit:,} bytes)")
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).name)[:100] or "upload.log"
    path = upload_dir(rt.settings) / f"{uuid.uuid4().hex[:12]}-{safe}"
    size = 0
    try:
        with open(path, "wb") as f:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise TooLarge(f"upload is larger than api_upload_max_mb ({rt.settings.api_upload_max_mb:g} MB "
                                   f"= {limit:,} bytes); stopped reading at {size:,} bytes")
                f.write(chunk)
        if size == 0:
            raise BadInput("empty upload: expected the log file's bytes as the request body")
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(path)
        raise
    result = await run_in_threadpool(rt.run_pipeline, ["ingest"], sources=[str(path)], fmt=format or "auto",
                                     actor=f"api:{key.name}", trigger="upload")
    step = result.steps[0]
    return {"run_id": result.run_id, "file": path.name, "bytes": size, **step.counts}
