"""Token forecasts per route and model: ``tokens_1m`` as hourly series through the same fit as requests.

Series ids: ``tokens:api|stage|route|provider|model``, the value is input + output tokens per hour.
Each series runs through :func:`forecaster.forecast.fit.fit_series`: the same models, rolling-origin
backtests, model selection, conformal intervals and spike scan as the request series, and the same
fallback to seasonal naive when a model fails. A key's hours without calls between its first call
and ``as_of`` are zero (a model-call log has a line per call, so a silent hour had none).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd

from .fit import FitSpec, History, SeriesResult, fit_series

SERIES_PREFIX = "tokens:"
SERIES_KEY = ["api", "stage", "route", "provider", "model"]
FORECAST_COLUMNS = ["series", *SERIES_KEY, "ds", "yhat", "yhat_lo_80", "yhat_hi_80", "yhat_lo_95", "yhat_hi_95",
                    "fitted_model", "fallback", "reason"]


def series_id(row) -> str:
    return SERIES_PREFIX + "|".join(str(row[k]) for k in SERIES_KEY)


def token_histories(hourly: pd.DataFrame, as_of: dt.datetime) -> dict[str, tuple[dict, History]]:
    """Series id -> (its key, its hourly tokens on a full grid from its first hour to ``as_of``)."""
    if not len(hourly):
        return {}
    end = pd.Timestamp(as_of).floor("h")
    h = hourly[pd.to_datetime(hourly["ts"]) < end]
    out = {}
    for key, g in h.assign(tok=h["input_tokens"] + h["output_tokens"]).groupby(SERIES_KEY, sort=True):
        by_hour = g.groupby(pd.to_datetime(g["ts"]).dt.floor("h"))["tok"].sum()
        grid = pd.date_range(by_hour.index.min(), end, freq="h", inclusive="left")
        y = by_hour.reindex(grid, fill_value=0).to_numpy(dtype=float)
        k = dict(zip(SERIES_KEY, key))
        out[series_id(k)] = (k, History(grid.to_numpy(dtype="datetime64[ns]"), y))
    return out


@dataclasses.dataclass
class TokenForecast:
    as_of: dt.datetime
    horizon_hours: int
    forecast: pd.DataFrame                  # FORECAST_COLUMNS
    results: list[SeriesResult]

    @property
    def spikes(self) -> list:
        return [s for r in self.results for s in r.spikes]


def forecast_tokens(hourly: pd.DataFrame, as_of: dt.datetime, horizon_hours: int = 72, model: str = "auto",
                    preset: str = "fast", seed: int = 0, min_ratio: float = 1.5,
                    min_excess_tokens: float = 1000.0, min_probability: float = 0.0) -> TokenForecast:
    """Forecast every route-and-model token series ``horizon_hours`` past ``as_of`` (pure; fits in process)."""
    spec = FitSpec(horizon=horizon_hours, step="1h", model=model, preset=preset, seed=seed,
                   as_of=pd.Timestamp(as_of), min_ratio=min_ratio, min_excess=min_excess_tokens,
                   min_probability=min_probability)
    rows, results = [], []
    for sid, (key, hist) in token_histories(hourly, as_of).items():
        res = fit_series(sid, hist, spec)
        results.append(res)
        f = res.forecast
        n = len(f["ds"])
        part = pd.DataFrame({"series": [sid] * n, **{k: [key[k]] * n for k in SERIES_KEY}, "ds": f["ds"],
                             **{c: np.maximum(np.asarray(f[c], dtype=float), 0.0)
                                for c in ("yhat", "yhat_lo_80", "yhat_hi_80", "yhat_lo_95", "yhat_hi_95")},
                             "fitted_model": res.model, "fallback": res.fallback, "reason": res.reason})
        rows.append(part)
    frame = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=FORECAST_COLUMNS)
    return TokenForecast(as_of, horizon_hours, frame[FORECAST_COLUMNS], results)
