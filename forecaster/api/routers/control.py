"""``POST /v1/plan``, ``/v1/apply``, ``/v1/rollback`` (operator): the control plane, with the CLI's
semantics and JSON shapes. Dry run unless the body says ``"dry_run": false``. Plan and apply run as
pipeline steps (rows in ``runs``); every call to a target is an ``actions`` row."""

from __future__ import annotations

from typing import Optional

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from ...errors import BadInput
from ..auth import require_role

router = APIRouter(prefix="/v1", tags=["control"])


class ApplyIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"dry_run": True}]})
    dry_run: bool = Field(True, description="record what would change, change nothing (the default)")


class RollbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"last": True, "dry_run": False}]})
    action_ids: list[str] = Field(default_factory=list, description="actions whose before-state to restore")
    last: bool = Field(False, description="restore the last apply's changes")
    dry_run: bool = True


@router.post("/plan", summary="The diff the recommendations in force would make to the live targets (operator)")
async def plan(request: Request, key=Depends(require_role("operator"))) -> dict:
    rt = request.app.state.runtime
    res = await run_in_threadpool(rt.run_pipeline, ["plan"], actor=f"api:{key.name}", trigger="api")
    p = res.step("plan").value
    return {"run_id": res.run_id, **(p.to_dict() if p is not None else {"changes": [], "skipped": []})}


@router.post("/apply", summary="Apply the plan (operator); dry run unless dry_run is false")
async def apply(request: Request, body: Optional[ApplyIn] = None, key=Depends(require_role("operator"))) -> dict:
    rt = request.app.state.runtime
    dry = True if body is None else body.dry_run
    res = await run_in_threadpool(rt.run_pipeline, ["plan", "apply"], actor=f"api:{key.name}", trigger="api",
                                  apply_mode="dry_run" if dry else "all")
    out = res.step("apply").value
    return {"run_id": res.run_id, **(out.to_dict() if out is not None else {"applied": [], "failed": [], "dry_run": dry})}


@router.post("/rollback", summary="Restore the recorded before-state of actions (operator)")
async def rollback(request: Request, body: RollbackIn, key=Depends(require_role("operator"))) -> dict:
    if not body.last and not body.action_ids:
        raise BadInput("rollback needs action_ids or \"last\": true")
    rt = request.app.state.runtime

    def work():
        from ...control import rollback as do_rollback

        with rt.step_lock("apply", timeout=60):
            try:
                return do_rollback(rt.cursor(), rt.settings, body.action_ids or None, last=body.last,
                                   dry_run=body.dry_run, actor=f"api:{key.name}")
            finally:
                rt.version += 1
    return (await run_in_threadpool(work)).to_dict()
