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
from typing import cast

import numpy as np
import pandas as pd

from ..errors import InsufficientHistory
from .metrics import DEFAULT_METRICS, Scored, compute
from .models import get_model
from .models.naive import SeasonalNaive
from .models.common import WEEK, Arrays, HistoryLike, Prepared, periods, prepare, season_steps

MIN_TRAIN = pd.Timedelta("3D")


@dataclass(frozen=True)
class Fold:
    """One rolling origin: training data, test actuals, and the naive benchmark for them.

    Held as arrays (``train_data``, ``test_ds``, ``test_y``); ``train`` and ``test`` build frames
    on demand for callers that want them (a backtest itself never does)."""

    index: int  # 0 = most recent
    train_data: Prepared  # the training part, already validated (models skip re-checking it)
    test_ds: np.ndarray  # datetime64 of the test steps
    test_y: np.ndarray  # actuals on the test steps (NaN = no data)
    train_regressors: pd.DataFrame | None
    test_regressors: pd.DataFrame | None
    benchmark: np.ndarray  # seasonal naive yhat on the test steps
    scale: float  # in-sample seasonal naive MAE
    step: pd.Timedelta

    @property
    def train(self) -> pd.DataFrame:
        """The training part as a frame (ds, y)."""
        return pd.DataFrame({"ds": self.train_data.ds, "y": self.train_data.y})

    @property
    def test(self) -> pd.DataFrame:
        """The test part as a frame (ds, y)."""
        return pd.DataFrame({"ds": self.test_ds, "y": self.test_y})

    @property
    def cutoff(self) -> pd.Timestamp:
        """Last training timestamp (Prophet's convention)."""
        return self.train_data.ds[-1]


def make_folds(history: HistoryLike, horizon: int, folds: int = 3, step: pd.Timedelta | None = None,
               seed: int = 0, regressors: pd.DataFrame | None = None, spacing: int | None = None,
               min_train: pd.Timedelta = MIN_TRAIN) -> list[Fold]:
    """The folds of a rolling-origin evaluation, most recent first; raises InsufficientHistory if none fits."""
    data = prepare(history, step)
    spacing = spacing or horizon
    min_steps = max(season_steps(data.step, min_train), 2)
    reg_ds = _regressor_ds(regressors)
    ds = data.ds.values
    out = []
    for i in range(folds):
        end = data.n - i * spacing
        start = end - horizon
        if start < min_steps:
            break
        train_data = Prepared(ds=data.ds[:start], y=data.y[:start], step=data.step)
        bench_name = benchmark_model(start, data.step)
        bench = cast(SeasonalNaive, get_model(bench_name, step=data.step, seed=seed).fit(train_data)).point_forecast(horizon)
        last_train, last_test = ds[start - 1], ds[end - 1]
        out.append(Fold(i, train_data, ds[start:end], data.y[start:end],
                        _window(regressors, reg_ds, None, last_train),
                        _window(regressors, reg_ds, last_train, last_test),
                        bench, naive_scale(train_data.y, start, data.step),
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
    return pd.DataFrame(evaluate_arrays(folds, model_name, horizon, seed, model_options))


def evaluate_arrays(folds: list[Fold], model_name: str, horizon: int, seed: int = 0,
                    model_options: dict | None = None) -> Arrays:
    """:func:`evaluate` as a dict of columns (what auto selection scores; no frame built)."""
    columns: dict[str, list[np.ndarray]] = {}
    for fold, forecast in zip(folds, _fold_forecasts(folds, model_name, horizon, seed, model_options)):
        parts = {"fold": np.full(horizon, fold.index), "cutoff": np.full(horizon, fold.cutoff.to_datetime64()),
                 "h": np.arange(1, horizon + 1)}
        parts.update(forecast)
        parts.update({"y": np.asarray(fold.test_y, dtype=float), "benchmark": fold.benchmark,
                      "scale": np.full(horizon, fold.scale)})
        for name, values in parts.items():
            columns.setdefault(name, []).append(values)
    return {name: np.concatenate(values) for name, values in columns.items()}


def _fold_forecasts(folds: list[Fold], model_name: str, horizon: int, seed: int,
                    model_options: dict | None) -> list[Arrays]:
    """Each fold's forecast of ``model_name``: all folds in one call when the model can batch them
    (its class declares ``forecasts_folds``: ETS runs its grid searches at once), else fold by fold."""
    if len(folds) > 1 and len({f.step for f in folds}) == 1:
        model = get_model(model_name, step=folds[0].step, seed=seed, **(model_options or {}))
        if model.forecasts_folds:
            return model.forecast_folds([(f.train_data, f.train_regressors, f.test_regressors) for f in folds], horizon)
    out = []
    for fold in folds:
        model = get_model(model_name, step=fold.step, seed=seed, **(model_options or {}))
        out.append(model.fit(fold.train_data, fold.train_regressors).forecast_arrays(
            horizon, future_regressors=fold.test_regressors))
    return out


def score_records(forecasts: pd.DataFrame | Arrays, metrics: tuple[str, ...] = DEFAULT_METRICS) -> list[dict]:
    """One record per fold: fold, cutoff, horizon, n_actual and each metric (missing actuals excluded).
    ``forecasts``: what :func:`evaluate` or :func:`evaluate_arrays` returns."""
    if isinstance(forecasts, pd.DataFrame):
        arrays = {c: forecasts[c].to_numpy() for c in forecasts.columns}
    else:
        arrays = {c: np.asarray(v) for c, v in forecasts.items()}
    rows = []
    y_all = arrays["y"].astype(float)
    fold_ids = arrays["fold"]
    for fold in np.unique(fold_ids):
        in_fold = fold_ids == fold
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


def _window(regressors: pd.DataFrame | None, ds: np.ndarray | None, after: np.datetime64 | None,
            until: np.datetime64) -> pd.DataFrame | None:
    """The regressor rows with ``after < ds <= until`` (a slice when ds is sorted, as events.regressors builds it)."""
    if regressors is None or regressors.empty or ds is None:
        return None
    until = np.datetime64(until)
    if len(ds) < 2 or bool((ds[1:] > ds[:-1]).all()):
        lo = 0 if after is None else int(np.searchsorted(ds, np.datetime64(after), side="right"))
        hi = int(np.searchsorted(ds, until, side="right"))
        return regressors.iloc[lo:hi].reset_index(drop=True)
    keep = ds <= until if after is None else (ds > np.datetime64(after)) & (ds <= until)
    return regressors[keep].reset_index(drop=True)


__all__ = ["Fold", "backtest", "benchmark_model", "evaluate", "evaluate_arrays", "make_folds", "naive_scale", "score",
           "score_records"]
