"""``/v1/events``: calendar events the next forecast run uses (with ``events_file``)."""

from __future__ import annotations

from typing import Literal, Optional

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from ...errors import BadInput
from ...forecast.events import parse_events
from ...store import events as repo
from ..auth import require_role

router = APIRouter(prefix="/v1/events", tags=["events"])


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "name": "Black Friday", "start": "2026-11-27T05:00:00Z", "end": "2026-11-28T08:00:00Z",
        "routes": ["route:shop|prod|GET /products|*"], "expected_uplift": 5}]})

    name: str = Field(..., min_length=1, max_length=200)
    start: str = Field(..., description="ISO date or time (UTC; offsets converted)")
    end: str = Field(..., description="ISO date or time, exclusive (a date alone includes that day)")
    routes: list[str] = Field(default_factory=list, description="globs on route, api:route or series id; empty: all")
    regions: list[str] = Field(default_factory=list)
    expected_uplift: Optional[float] = Field(None, gt=0, description="expected traffic multiple, e.g. 3")
    recurring: Optional[Literal["daily", "weekly", "yearly"]] = None


@router.get("", summary="Stored calendar events", dependencies=[Depends(require_role("reader"))])
def list_events(request: Request) -> dict:
    return {"items": repo.all_events(request.app.state.runtime.cursor())}


@router.post("", status_code=201, summary="Add a calendar event (admin)")
def add_event(request: Request, event: EventIn, key=Depends(require_role("admin"))) -> dict:
    evs, problems = parse_events([event.model_dump()])
    if problems:
        raise BadInput("; ".join(p.replace("row 2, ", "") for p in problems))
    ev = evs[0]
    return repo.insert(request.app.state.runtime.cursor(), ev.name, ev.start.to_pydatetime(), ev.end.to_pydatetime(),
                       ev.routes, ev.regions, ev.expected_uplift, ev.recurring, created_by=key.name)


@router.delete("/{event_id}", summary="Remove a calendar event (admin)", dependencies=[Depends(require_role("admin"))])
def delete_event(request: Request, event_id: str) -> dict:
    return {"deleted": repo.delete(request.app.state.runtime.cursor(), event_id)}
