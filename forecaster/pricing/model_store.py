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


def token_forecast_from_db(con: Connection, settings: Settings, horizon_hours: int = 72,
                           as_of: dt.datetime | None = None, model: str | None = None) -> dict:
    """Forecast tokens per route and model from ``as_of`` (default: the end of the tokens), price the
    forecast, project the month end with it (budget alerts included) and cost the token spikes."""
    from ..forecast.tokens import forecast_tokens
    from .token_forecast import forecast_lines, spike_costs
    from .models import summarize_models, price_tokens

    _, last = store_llm.span(con)
    if last is None:
        raise BadInput("no model-call tokens in the store: load Bedrock, Kong AI Proxy or OpenAI usage logs first")
    cut = as_of or last + dt.timedelta(minutes=1)
    m0 = month_bounds(cut - dt.timedelta(microseconds=1))[0]
    hourly = store_llm.hourly(con, min(m0, cut - dt.timedelta(days=28)), cut)
    hourly["ts"] = pd.to_datetime(hourly["ts"])
    catalog = model_catalog_for(settings)
    tf = forecast_tokens(hourly, cut, horizon_hours, model or settings.forecast_model, settings.forecast_preset,
                         settings.forecast_seed, min_probability=settings.spike_min_probability)
    lines = {lvl: forecast_lines(tf.forecast, hourly, cut, lvl) for lvl in ("yhat", "yhat_lo_80", "yhat_hi_80")}
    priced = price_tokens(lines["yhat"], catalog, "forecast")
    by_series = {r["key"]: r for r in summarize_models(priced.assign(route=priced["route"] + "|" + priced["provider"]
                                                                     + "|" + priced["model"]), "route")}
    series = []
    for sid, g in tf.forecast.groupby("series", sort=True):
        r = next(iter(g.itertuples()))
        key = f"{r.api}|{r.stage}|{r.route}|{r.provider}|{r.model}"
        s = by_series.get(key, {"usd": 0.0, "flags": [], "unpriced": False})
        series.append({"series": sid, "fitted_model": r.fitted_model, "fallback": bool(r.fallback), "reason": r.reason,
                       "tokens": float(g["yhat"].sum()), "tokens_lo_80": float(g["yhat_lo_80"].sum()),
                       "tokens_hi_80": float(g["yhat_hi_80"].sum()), "usd": s["usd"], "unpriced": s["unpriced"],
                       "flags": s["flags"]})
    series.sort(key=lambda x: (-x["usd"], x["series"]))
    spend = model_spend(hourly, catalog, m0, cut, as_of=cut, budgets=settings.model_budgets, project=True,
                        forecast=lines["yhat"]).to_dict()
    return {"from": cut.isoformat(), "to": (cut + dt.timedelta(hours=horizon_hours)).isoformat(),
            "series": series, "projection": spend["projection"], "alerts": spend["alerts"],
            "unpriced_models": spend["unpriced_models"],
            "spikes": [dict(vars(s), start=s.start.isoformat(), message=s.message) for s in spike_costs(tf, hourly, catalog)]}
