"""``/v1/keys``: API keys (admin). The key text is returned once, at creation; only its hash is kept."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from ...store import api_keys
from ..auth import require_role

router = APIRouter(prefix="/v1/keys", tags=["keys"], dependencies=[Depends(require_role("admin"))])


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"name": "edge-gateway", "role": "reader"}]})
    name: str = Field(..., min_length=1, max_length=200)
    role: Literal["reader", "operator", "admin"]


@router.get("", summary="Live API keys (never the keys themselves)")
def list_keys(request: Request, include_revoked: bool = False) -> dict:
    return {"items": [k.to_dict() for k in api_keys.list_keys(request.app.state.runtime.cursor(), include_revoked)]}


@router.post("", status_code=201, summary="Create a key; the response is the only time it is shown")
def create_key(request: Request, body: KeyIn) -> dict:
    k, text = api_keys.create(request.app.state.runtime.cursor(), body.name, body.role)
    return {"name": k.name, "role": k.role, "key": text, "id": k.key_id}


@router.delete("/{key_id_or_name}", summary="Revoke a key by id, or every live key with that name")
def revoke_key(request: Request, key_id_or_name: str) -> dict:
    revoked = api_keys.revoke(request.app.state.runtime.cursor(), key_id_or_name)
    request.app.state.key_cache.clear()
    return {"revoked": [k.to_dict() for k in revoked]}
