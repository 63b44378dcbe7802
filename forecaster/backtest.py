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
from .models.common import WEEK, Prepared, periods, prepare, season_steps

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
    train_data: Prepared | None = None  # the training part already validated (models skip re-checking it)

    @property
    def cutoff(self) -> pd.Timestamp:
        """Last training timestamp (Prophet's convention)."""
        if self.train_data is not None:
            return self.train_data.ds[-1]
        return self.train["ds"].iloc[-1]


def make_folds(history: pd.DataFrame, horizon: int, folds: int = 3, step: pd.Timedelta | None = None,
               seed: int = 0, regressors: pd.DataFrame | None = None, spacing: int | None = None,
               min_train: pd.Timedelta = MIN_TRAIN) -> list[Fold]:
    """The folds of a rolling-origin evaluation, most recent first; raises InsufficientHistory if none fits."""
    data = prepare(history, step)
    spacing = spacing or horizon
    min_steps = max(season_steps(data.step, min_train), 2)
    reg_ds = _regressor_ds(regressors)
    out = []
    for i in range(folds):
        end = data.n - i * spacing
        start = end - horizon
        if start < min_steps:
            break
        train_data = Prepared(ds=data.ds[:start], y=data.y[:start], step=data.step)
        train = pd.DataFrame({"ds": train_data.ds, "y": train_data.y})
        test = pd.DataFrame({"ds": data.ds[start:end], "y": data.y[start:end]})
        bench_name = benchmark_model(start, data.step)
        bench = get_model(bench_name, step=data.step, seed=seed).fit(train_data).predict(horizon)
        last_train, last_test = data.ds[start - 1], data.ds[end - 1]
        out.append(Fold(i, train, test, _window(regressors, reg_ds, None, last_train),
                        _window(regressors, reg_ds, last_train, last_test),
                        bench["yhat"].to_numpy(float), naive_scale(train_data.y, start, data.step),
                        data.step, train_data))
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
        forecast = model.fit(fold.train_data if fold.train_data is not None else fold.train,
                             fold.train_regressors).predict(
            horizon, future_regressors=fold.test_regressors)
        parts = {"fold": np.full(horizon, fold.index), "cutoff": np.full(horizon, fold.cutoff.to_datetime64()),
                 "h": np.arange(1, horizon + 1)}
        parts.update({c: forecast[c].to_numpy() for c in forecast.columns})
        parts.update({"y": fold.test["y"].to_numpy(dtype=float), "benchmark": fold.benchmark,
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


def _regressor_ds(regressors: pd.DataFrame | None) -> np.ndarray | None:
    if regressors is None or regressors.empty:
        return None
    return pd.to_datetime(regressors["ds"]).to_numpy()


def _window(regressors: pd.DataFrame | None, ds: np.ndarray | None, after: pd.Timestamp | None,
            until: pd.Timestamp) -> pd.DataFrame | None:
    if regressors is None or regressors.empty or ds is None:
        return None
    until = np.datetime64(until)
    keep = ds <= until if after is None else (ds > np.datetime64(after)) & (ds <= until)
    return regressors[keep].reset_index(drop=True)


__all__ = ["Fold", "backtest", "benchmark_model", "evaluate", "make_folds", "naive_scale", "score"]
