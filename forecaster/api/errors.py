"""One JSON shape for every error: ``{"error": {"code", "message", "details"?}}`` with the right status.

Errors of ours carry their status (``forecaster.errors``); FastAPI's own (unknown route, wrong
method, a body that does not validate) and anything unexpected are mapped here, so no response is
ever a stack trace or another shape.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import ForecasterError

log = logging.getLogger(__name__)

HTTP_CODES = {400: "bad_input", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
              406: "not_acceptable", 409: "conflict", 411: "length_required", 413: "too_large",
              415: "unsupported_media_type", 422: "invalid_request", 429: "too_many_requests", 503: "unavailable"}


def error_response(status: int, code: str, message: str, details: list[dict[str, Any]] | None = None,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["details"] = details
    headers = dict(headers or {})
    if status == 401:
        headers.setdefault("WWW-Authenticate", 'Bearer realm="forecaster"')
    return JSONResponse({"error": body}, status_code=status, headers=headers)


async def _ours(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ForecasterError)
    if exc.status >= 500:
        log.error("%s %s: %s", request.method, request.url.path, exc)
    return error_response(exc.status, exc.code, str(exc))


async def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    if status == 404 and message == "Not Found":
        message = f"no such endpoint: {request.method} {request.url.path} (see /docs)"
    elif status == 405:
        message = f"{request.method} is not allowed on {request.url.path} (see /docs)"
    return error_response(status, HTTP_CODES.get(status, "error"), message, headers=getattr(exc, "headers", None))


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    details = [{"loc": [str(p) for p in e.get("loc", ())], "message": e.get("msg", ""), "type": e.get("type", "")}
               for e in exc.errors()]
    if any(d["type"] == "json_invalid" for d in details):
        return error_response(400, "bad_input", "malformed JSON body: expected a JSON object; "
                              + "; ".join(d["message"] for d in details), details)
    msg = "; ".join(f"{'.'.join(d['loc'])}: {d['message']}" for d in details)
    return error_response(422, "invalid_request", f"the request does not fit the schema: {msg}", details)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("%s %s failed", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal_error", "internal error; the server log has the details")


def install(app: FastAPI) -> None:
    app.add_exception_handler(ForecasterError, _ours)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(Exception, _unexpected)
