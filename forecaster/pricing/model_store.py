"""The I/O of model spend: read tokens from DuckDB, load the model price catalog (+ overlay)."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from ..config import Settings
from ..errors import BadInput
from ..store import llm as store_llm
from ..store.db import Connection
from .model_spend import ModelSpend, model_spend
from .models import ModelCatalog, load_model_catalog
from .projection import month_bounds


def model_catalog_for(settings: Settings) -> ModelCatalog:
    return load_model_catalog(settings.model_price_catalog, settings.price_overrides_file)


def has_tokens(con: Connection) -> bool:
    return store_llm.span(con)[0] is not None


def model_spend_from_db(con: Connection, settings: Settings, start: dt.datetime | None = None,
                        end: dt.datetime | None = None, project: bool = False,
                        as_of: dt.datetime | None = None) -> ModelSpend:
    """Model spend for [start, end) (default: the month of the latest tokens, up to their end);
    with ``project``, the month-end projection and the ``model_budgets`` alerts as of ``as_of``."""
    first, last = store_llm.span(con)
    data_end = last + dt.timedelta(minutes=1) if last is not None else None
    cut = as_of or data_end or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, second=0, microsecond=0)
    if data_end is not None and as_of is not None:
        data_end = min(data_end, as_of)
    end = end or data_end or cut
    start = start or month_bounds(end - dt.timedelta(microseconds=1))[0]
    if start >= end:
        raise BadInput(f"--from {start:%Y-%m-%d %H:%M} must be before --to {end:%Y-%m-%d %H:%M}")
    m0 = min(month_bounds(start)[0], month_bounds(cut - dt.timedelta(microseconds=1))[0] - dt.timedelta(days=7))
    hourly = store_llm.hourly(con, m0, max(end, cut))
    if len(hourly):
        hourly["ts"] = pd.to_datetime(hourly["ts"])
    return model_spend(hourly, model_catalog_for(settings), start, end, as_of=cut,
                       budgets=settings.model_budgets, project=project)
