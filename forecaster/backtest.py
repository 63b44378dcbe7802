"""Rolling-origin backtests of one series (pure: DataFrames in, DataFrames out).

Folds end at the end of the history and step back by ``spacing`` (default: one horizon, so test
windows do not overlap); fold i trains on everything before its test window. A fold is kept only
if its training part has at least ``min_train`` steps (default 3 days). Each fold's benchmark is
the weekly seasonal naive fitted on the same training data (daily when that holds under 2 weeks);
rel_mae divides by its MAE on the same steps, MASE by its in-sample MAE.

    rows = backtest(history, "ets", horizon=72, folds=3, step=pd.Timedelta("1h"))
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .errors import InsufficientHistory
from .metrics import DEFAULT_METRICS, Scored, compute
from .models import get_model
from .models.common import WEEK, periods, prepare, season_steps

MIN_TRAIN = pd.Timedelta("3D")


@dataclass(frozen=True)
class Fold:
    """One rolling origin: training data, test actuals, and the naive benchmark for them."""

    index: int  # 0 = most recent
    train: pd.DataFrame  # ds, y
    test: pd.DataFrame  # ds, y
    train_regressors: pd.DataFrame | None
    test_regressors: pd.DataFrame | None
    benchmark: np.ndarray  # seasonal naive yhat on the test steps
    scale: float  # in-sample seasonal naive MAE
    step: pd.Timedelta

    @property
    def cutoff(self) -> pd.Timestamp:
        """Last training timestamp (Prophet's convention)."""
        return self.train["ds"].iloc[-1]


def make_folds(history: pd.DataFrame, horizon: int, folds: int = 3, step: pd.Timedelta | None = None,
               seed: int = 0, regressors: pd.DataFrame | None = None, spacing: int | None = None,
               min_train: pd.Timedelta = MIN_TRAIN) -> list[Fold]:
    """The folds of a rolling-origin evaluation, most recent first; raises InsufficientHistory if none fits."""
    data = prepare(history, step)
    frame = pd.DataFrame({"ds": data.ds, "y": data.y})
    spacing = spacing or horizon
    min_steps = max(season_steps(data.step, min_train), 2)
    out = []
    for i in range(folds):
        end = data.n - i * spacing
        start = end - horizon
        if start < min_steps:
            break
        train, test = frame.iloc[:start], frame.iloc[start:end]
        bench_name = benchmark_model(start, data.step)
        bench = get_model(bench_name, step=data.step, seed=seed).fit(train).predict(horizon)
        out.append(Fold(i, train, test.reset_index(drop=True), _window(regressors, None, train["ds"].iloc[-1]),
                        _window(regressors, train["ds"].iloc[-1], test["ds"].iloc[-1]),
                        bench["yhat"].to_numpy(float), naive_scale(train["y"].to_numpy(float), start, data.step),
                        data.step))
    if not out:
        raise InsufficientHistory(
            f"backtest needs at least {min_steps + horizon} steps ({min_train} of training + horizon "
            f"{horizon}); history has {data.n} steps at {data.step}")
    return out


def benchmark_model(n_train: int, step: pd.Timedelta) -> str:
    """Weekly seasonal naive, or daily when the training part is shorter than 2 weeks."""
    return "seasonal_naive_weekly" if n_train >= 2 * season_steps(step, WEEK) else "seasonal_naive_daily"


def naive_scale(y: np.ndarray, n_train: int, step: pd.Timedelta) -> float:
    """In-sample MAE of the seasonal naive (weekly from 2 weeks of training, else daily, else lag 1)."""
    daily, weekly = periods(step)
    for lag in (weekly if n_train >= 2 * weekly else daily, 1):
        if len(y) > lag:
            d = np.abs(y[lag:] - y[:-lag])
            d = d[np.isfinite(d)]
            if d.size:
                return float(d.mean())
    return float("nan")


def evaluate(folds: list[Fold], model_name: str, horizon: int, seed: int = 0,
             model_options: dict | None = None) -> pd.DataFrame:
    """Fit and predict ``model_name`` on every fold: long frame of fold, cutoff, h, forecast columns, y,
    benchmark, scale (one row per fold and step ahead)."""
    columns: dict[str, list[np.ndarray]] = {}
    for fold in folds:
        model = get_model(model_name, step=fold.step, seed=seed, **(model_options or {}))
        forecast = model.fit(fold.train, fold.train_regressors).predict(
            horizon, future_regressors=fold.test_regressors)
        parts = {"fold": np.full(horizon, fold.index), "cutoff": np.full(horizon, fold.cutoff.to_datetime64()),
                 "h": np.arange(1, horizon + 1)}
        parts.update({c: forecast[c].to_numpy() for c in forecast.columns})
        parts.update({"y": fold.test["y"].to_numpy(float), "benchmark": fold.benchmark,
                      "scale": np.full(horizon, fold.scale)})
        for name, values in parts.items():
            columns.setdefault(name, []).append(values)
    return pd.DataFrame({name: np.concatenate(values) for name, values in columns.items()})


def score_records(forecasts: pd.DataFrame, metrics: tuple[str, ...] = DEFAULT_METRICS) -> list[dict]:
    """One record per fold: fold, cutoff, horizon, n_actual and each metric (missing actuals excluded)."""
    arrays = {c: forecasts[c].to_numpy() for c in forecasts.columns}
    rows = []
    y_all = arrays["y"].astype(float)
    for fold in np.unique(arrays["fold"]):
        in_fold = arrays["fold"] == fold
        keep = in_fold & np.isfinite(y_all)
        observed = {c: v[keep] for c, v in arrays.items()}
        scored = Scored(y_all[keep], observed, observed["benchmark"].astype(float),
                        float(arrays["scale"][in_fold][0]))
        rows.append({"fold": int(fold), "cutoff": pd.Timestamp(arrays["cutoff"][in_fold][0]),
                     "horizon": int(in_fold.sum()), "n_actual": int(keep.sum()), **compute(metrics, scored)})
    return rows


def score(forecasts: pd.DataFrame, metrics: tuple[str, ...] = DEFAULT_METRICS) -> pd.DataFrame:
    """One row per fold: fold, cutoff, horizon, n_actual and each metric (missing actuals excluded)."""
    return pd.DataFrame(score_records(forecasts, metrics))


def backtest(history: pd.DataFrame, model_name: str, horizon: int, folds: int = 3,
             step: pd.Timedelta | None = None, seed: int = 0, regressors: pd.DataFrame | None = None,
             metrics: tuple[str, ...] = DEFAULT_METRICS, **fold_options) -> pd.DataFrame:
    """Rolling-origin evaluation of one model on one series: one row per fold with its metrics."""
    built = make_folds(history, horizon, folds, step, seed, regressors, **fold_options)
    return score(evaluate(built, model_name, horizon, seed), metrics)


def _window(regressors: pd.DataFrame | None, after: pd.Timestamp | None,
            until: pd.Timestamp) -> pd.DataFrame | None:
    if regressors is None or regressors.empty:
        return None
    ds = pd.to_datetime(regressors["ds"])
    keep = ds <= until if after is None else (ds > after) & (ds <= until)
    return regressors[keep.to_numpy()].reset_index(drop=True)


__all__ = ["Fold", "backtest", "benchmark_model", "evaluate", "make_folds", "naive_scale", "score"]
