"""``POST /v1/session``: a browser session for the dashboards. The caller proves a key with
``Authorization: Bearer KEY``; the answer sets an HttpOnly, SameSite=Strict cookie that GET
requests (pages, reads) accept in place of the header. Writes always need the header, so the
cookie cannot be used for cross-site requests that change anything. ``DELETE`` ends the session."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from ..auth import SESSION_COOKIE, require_role

router = APIRouter(prefix="/v1/session", tags=["session"])


@router.post("", summary="Start a browser session (sets an HttpOnly cookie)")
def start_session(request: Request, response: Response, key=Depends(require_role("reader"))) -> dict:
    token = request.headers["authorization"].partition(" ")[2].strip()
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict", path="/",
                        secure=request.url.scheme == "https", max_age=12 * 3600)
    return {"name": key.name, "role": key.role}


@router.delete("", summary="End the browser session")
def end_session(response: Response) -> dict:
    response.delete_cookie(SESSION_COOKIE, path="/")
    return {"ended": True}
