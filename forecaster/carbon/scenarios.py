"""What-ifs straight from the store: the traffic of a window and the price and carbon inputs of the
settings, handed to :mod:`forecaster.carbon.whatif` (the CLI's ``whatif`` and the notebooks)."""

from __future__ import annotations

import datetime as dt

from ..config import Settings
from ..errors import BadInput
from ..pricing.store import catalog_for, load_traffic
from .store import inputs_for, window_for
from .whatif import Inputs, WhatIf, move_region, shift_to_clean_hours


def whatif(con, settings: Settings, scenario: str, route: str, share: float, to_region: str | None = None,
           window: str = "1D", start: dt.datetime | None = None, end: dt.datetime | None = None) -> WhatIf:
    """``scenario``: ``move`` (a share of ``route``'s traffic to ``to_region``) or ``shift`` (a
    deferrable share to the cleanest hour of each ``window``); over [start, end) (default: the
    month of the latest data)."""
    s, e, _ = window_for(con, start, end)
    traffic = load_traffic(con, s, e)
    c, grid = inputs_for(settings)
    inputs = Inputs(catalog_for(settings), c, grid, settings)
    if scenario == "move":
        if not to_region:
            raise BadInput("a 'move' what-if needs to_region, the region the traffic moves to")
        return move_region(traffic, route, to_region, share, inputs)
    if scenario == "shift":
        return shift_to_clean_hours(traffic, route, share, inputs, window)
    raise BadInput(f"scenario must be 'move' or 'shift', not {scenario!r}")
