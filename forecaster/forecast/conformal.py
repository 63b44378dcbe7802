"""Calibrated prediction intervals from backtest residuals (pure: arrays in, arrays out).

Auto selection ends with a backtest of the winner on a few rolling origins; this module turns
that backtest into the forecast's intervals, level by level.

- **Conformal quantiles.** Residuals ``log1p(y) - log1p(yhat)`` of the backtest, grouped in horizon
  bands (``BAND``, widened until each band holds ``MIN_RESIDUALS_PER_BAND``), and per band the
  split-conformal order statistics: the ``ceil((n + 1)(1 - a))``-th smallest for the upper bound
  and the ``floor((n + 1) a)``-th for the lower one (``a`` the tail mass, 2.5% at 95%), so that the
  interval covers at least the level on exchangeable data however small ``n`` is. The log scale
  makes the width proportional to the level (traffic noise is roughly multiplicative) so the
  quantiles transfer from the folds to today's level, and it stays defined at zero.
- **Three candidates per level.** The model's own interval (its long-run view: naive and profile
  models read the whole history's seasonal errors; it can still be optimistic about the model),
  the conformal one (honest about the model, but it saw only the recent folds), and their union
  (each step takes the wider bound). Each is scored out of sample on the backtest: the own
  interval as each fold's training predicted it, the conformal one leave-one-fold-out (the
  quantiles of the other folds applied to this fold), the union from those two. The candidate
  whose coverage is closest to the level wins, per level. Measured on ``bench/bench_accuracy``
  (real NAB and generated series, see docs/benchmarks.md): the model's own intervals over-cover
  the generated series, the conformal ones under-cover NAB, whose backtest weeks were calmer than
  its test weeks; the choice lands near both levels on both sets.
- With a single fold (slow models are backtested on their latest fold only) there is no
  out-of-sample score for the conformal candidate: the union is used, the conservative choice.
- **Held at the current level** (:func:`hold_level`, applied by the forecast run to every model's
  intervals): when the forecast's level over the horizon differs from the series' expected
  traffic (the hour-of-week shape at the level of its last days: what spikes are measured
  against), the band also holds the forecast moved to that level. Every band above is a band
  around the model's point forecast; a model that lags a level shift, or carries a weekend's level
  into the week (ETS on under two weeks of history, where no model knows the week), misses on
  one side by the whole gap, and 1-2 backtest folds of 72 h rarely held such a gap. Measured
  (``bench_spikes --cases real``, docs/benchmarks.md): ELB's 80% coverage 0.709 -> 0.80.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .models.common import finish, season_steps

COVERAGE_TARGETS = {80: (0.75, 0.88), 95: (0.90, 0.99)}  # what the accuracy benchmark checks (issue 3)
BAND = pd.Timedelta("6h")  # horizon band of the conformal quantiles
#: residuals per band at least: 39 is the smallest n for which the conformal 97.5% quantile
#: (the upper bound of a 95% interval) is a finite order statistic, ceil(0.975 (n + 1)) <= n.
MIN_RESIDUALS_PER_BAND = 40
METHODS = ("union", "own", "conformal")  # tie order: the most conservative first


@dataclass
class IntervalChoice:
    """Which interval each level uses, and the backtest coverage of every candidate behind the choice."""

    methods: dict[int, str] = field(default_factory=dict)  # level -> "own" | "conformal" | "union"
    coverage: dict[int, dict[str, float]] = field(default_factory=dict)  # level -> method -> backtest coverage
    fold_coverage: dict[int, dict[int, float]] = field(default_factory=dict)  # level -> fold -> the chosen one's

    @property
    def calibrated(self) -> bool:
        """True when some level does not use the model's own interval."""
        return any(m != "own" for m in self.methods.values())

    def describe(self) -> str:
        parts = []
        for level, method in sorted(self.methods.items()):
            cov = self.coverage.get(level, {})
            scored = ", ".join(f"{m} {c:.2f}" for m, c in cov.items() if np.isfinite(c))
            parts.append(f"{level}% {method}" + (f" (backtest coverage {scored})" if scored else ""))
        return "intervals: " + "; ".join(parts)


def _column(forecasts, name: str) -> np.ndarray:
    return np.asarray(forecasts[name])


def log_residuals(y: np.ndarray, yhat: np.ndarray) -> np.ndarray:
    """``log1p(y) - log1p(yhat)`` (NaN where y is missing); yhat clipped at 0 as the forecasts are."""
    with np.errstate(invalid="ignore"):
        return np.log1p(np.asarray(y, dtype=float)) - np.log1p(np.clip(np.asarray(yhat, dtype=float), 0.0, None))


def conformal_quantile(sorted_r: np.ndarray, q: float) -> float:
    """The split-conformal order statistic of ``sorted_r`` for quantile ``q`` (upper tail rounded
    up, lower tail rounded down; clamped to the sample's range when n is too small to reach it)."""
    n = len(sorted_r)
    if q >= 0.5:
        k = min(math.ceil(q * (n + 1)), n)
    else:
        k = max(math.floor(q * (n + 1)), 1)
    return float(sorted_r[k - 1])


def band_width(step: pd.Timedelta, n_folds: int) -> int:
    """Steps per horizon band: ``BAND``, widened so that each band holds ``MIN_RESIDUALS_PER_BAND``."""
    return max(season_steps(step, BAND), math.ceil(MIN_RESIDUALS_PER_BAND / max(n_folds, 1)))


def residual_quantiles(forecasts: Mapping | pd.DataFrame, step: pd.Timedelta, n_folds: int,
                       levels: tuple[int, ...] = (80, 95)) -> pd.DataFrame:
    """Conformal quantiles of the log1p residuals of a backtest per horizon band: one row per band
    (h_from, h_to, n, q_lo_<level>, q_hi_<level>); empty when no actual was observed.

    ``forecasts``: a backtest's long columns (``h``, ``y``, ``yhat``; one row per fold and step)."""
    band = band_width(step, n_folds)
    r = log_residuals(_column(forecasts, "y"), _column(forecasts, "yhat"))
    h = _column(forecasts, "h").astype(int)
    ok = np.isfinite(r)
    r, h = r[ok], h[ok]
    if r.size == 0:
        return pd.DataFrame()
    last = max(int(h.max()) // band, 1) - 1  # a partial band at the end joins the one before it
    bands = np.minimum((h - 1) // band, last)
    rows = []
    for b in np.unique(bands):
        part = np.sort(r[bands == b])
        h_to = int(h.max()) if b == last else int((b + 1) * band)
        row: dict[str, float] = {"h_from": int(b * band + 1), "h_to": h_to, "n": int(part.size)}
        for level in levels:
            tail = (100 - level) / 200.0
            row[f"q_lo_{level}"] = conformal_quantile(part, tail)
            row[f"q_hi_{level}"] = conformal_quantile(part, 1 - tail)
        rows.append(row)
    return pd.DataFrame(rows)


def conformal_bounds(yhat: np.ndarray, h: np.ndarray, quantiles: pd.DataFrame,
                     levels: tuple[int, ...]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """The conformal interval of each level around ``yhat`` at steps ahead ``h`` (1-based); a step
    beyond the last band uses the last band's quantiles."""
    edges = quantiles["h_to"].to_numpy()
    row = np.minimum(np.searchsorted(edges, np.asarray(h)), len(quantiles) - 1)
    base = np.log1p(np.clip(np.asarray(yhat, dtype=float), 0.0, None))
    return {lv: (np.expm1(base + quantiles[f"q_lo_{lv}"].to_numpy()[row]),
                 np.expm1(base + quantiles[f"q_hi_{lv}"].to_numpy()[row])) for lv in levels}


def union_bounds(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The wider bound of two intervals at each step."""
    return np.minimum(a[0], b[0]), np.maximum(a[1], b[1])


def _hits(y: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    return (y >= lo) & (y <= hi)


def backtest_coverage(backtest: Mapping | pd.DataFrame, step: pd.Timedelta,
                      levels: tuple[int, ...], per_fold: dict | None = None) -> dict[int, dict[str, float]]:
    """Out-of-sample coverage of each candidate interval on the backtest, per level.

    own: each fold's forecast interval; conformal: leave-one-fold-out (quantiles of the other
    folds, NaN with a single fold); union: of those two (own alone with a single fold)."""
    fold = _column(backtest, "fold")
    y = _column(backtest, "y").astype(float)
    h = _column(backtest, "h").astype(int)
    yhat = _column(backtest, "yhat").astype(float)
    observed = np.isfinite(y)
    folds = np.unique(fold)
    hits: dict[int, dict[str, list[np.ndarray]]] = {lv: {m: [] for m in METHODS} for lv in levels}
    for f in folds:
        this, rest = fold == f, fold != f
        keep = this & observed
        if not keep.any():
            continue
        own = {lv: (_column(backtest, f"yhat_lo_{lv}")[keep], _column(backtest, f"yhat_hi_{lv}")[keep]) for lv in levels}
        quantiles = pd.DataFrame()
        if len(folds) > 1:
            quantiles = residual_quantiles({"h": h[rest], "y": y[rest], "yhat": yhat[rest]}, step,
                                           len(folds) - 1, levels)
        conf = conformal_bounds(yhat[keep], h[keep], quantiles, levels) if not quantiles.empty else None
        for lv in levels:
            found = {"own": _hits(y[keep], *own[lv])}
            if conf is not None:
                found["conformal"] = _hits(y[keep], *conf[lv])
                found["union"] = _hits(y[keep], *union_bounds(own[lv], conf[lv]))
            for m, hit in found.items():
                hits[lv][m].append(hit)
                if per_fold is not None:
                    per_fold.setdefault((lv, m), {})[int(f)] = float(hit.mean())
    return {lv: {m: float(np.concatenate(v).mean()) if v else float("nan") for m, v in by.items()}
            for lv, by in hits.items()}


def choose_intervals(coverage: dict[int, dict[str, float]], n_folds: int,
                     per_fold: dict | None = None) -> dict[int, str]:
    """Per level, the candidate whose backtest coverage is closest to the level, checked per regime:
    with ``per_fold`` (``(level, method) -> {fold: coverage}``) a candidate also pays for how far its
    worst fold falls short of the level (a ramp or a level shift makes one fold a regime of its own,
    and pooled coverage would hide that it under-covers there); under-covering the level counts twice
    (an interval too narrow misleads a decision more than one too wide). Ties: union, own, conformal. The
    union when the conformal candidate could not be scored (a single fold)."""
    out = {}
    for level, cov in coverage.items():
        target = level / 100.0

        def score(m: str) -> float:
            folds = (per_fold or {}).get((level, m), {})
            worst = min(folds.values()) if folds else cov[m]
            return abs(cov[m] - target) + max(0.0, target - cov[m]) + max(0.0, target - worst)

        scored = [(score(m), i, m) for i, m in enumerate(METHODS) if np.isfinite(cov.get(m, np.nan))]
        if n_folds < 2 or not any(m == "conformal" for _, _, m in scored):
            out[level] = "union" if n_folds >= 1 else "own"
        else:
            out[level] = min(scored)[2]
    return out


#: how far the expected level may move a band (the spike baseline's ``LEVEL_CLIP``)
HOLD_CLIP = (0.25, 4.0)


def level_gap(yhat: np.ndarray, expected: np.ndarray, judged: np.ndarray | None = None) -> float:
    """``sum(expected) / sum(yhat)`` over the ``judged`` steps (default all; event steps are left
    out by the caller: a sale is not a level), clipped to ``HOLD_CLIP``; 1 when either sum is not positive."""
    yhat = np.asarray(yhat, dtype=float)
    expected = np.asarray(expected, dtype=float)
    keep = np.isfinite(yhat) & np.isfinite(expected)
    if judged is not None:
        keep &= np.asarray(judged, dtype=bool)
    a, b = float(expected[keep].sum()), float(np.clip(yhat[keep], 0.0, None).sum())
    if a <= 0 or b <= 0:
        return 1.0
    return float(np.clip(a / b, *HOLD_CLIP))


def hold_level(forecast: Mapping, gap: float, levels: tuple[int, ...] = (80, 95)) -> dict:
    """The forecast's columns with each level's band widened to hold the band moved by ``gap`` (the
    expected level over the forecast's, :func:`level_gap`): above 1 the upper bounds rise to
    ``hi x gap``, below 1 the lower bounds fall to ``lo x gap``; ``yhat`` is unchanged."""
    out = dict(forecast)
    if gap == 1.0:
        return out
    for lv in levels:
        lo, hi = f"yhat_lo_{lv}", f"yhat_hi_{lv}"
        if lo in out and hi in out:
            out[lo] = np.minimum(np.asarray(out[lo], dtype=float), np.asarray(out[lo], dtype=float) * gap)
            out[hi] = np.maximum(np.asarray(out[hi], dtype=float), np.asarray(out[hi], dtype=float) * gap)
    return out


def calibrate(forecast: pd.DataFrame, backtest: Mapping | pd.DataFrame | None, step: pd.Timedelta,
              levels: tuple[int, ...] = (80, 95)) -> tuple[pd.DataFrame, IntervalChoice, pd.DataFrame]:
    """The forecast with each level's interval chosen from own / conformal / union by the backtest.

    ``backtest``: the winner's backtest columns (fold, h, y, yhat, yhat_lo_<level>, yhat_hi_<level>).
    Returns (forecast frame, the choice, the conformal quantiles used). Without a backtest, or
    without any observed actual in it, the forecast keeps its own intervals."""
    if backtest is None or len(_column(backtest, "y")) == 0:
        return forecast, IntervalChoice({lv: "own" for lv in levels}), pd.DataFrame()
    n_folds = len(np.unique(_column(backtest, "fold")))
    quantiles = residual_quantiles(backtest, step, n_folds, levels)
    if quantiles.empty:
        return forecast, IntervalChoice({lv: "own" for lv in levels}), quantiles
    folds_cov: dict = {}
    coverage = backtest_coverage(backtest, step, levels, folds_cov)
    methods = choose_intervals(coverage, n_folds, folds_cov)
    choice = IntervalChoice(methods, coverage)
    for lv, m in methods.items():   # with one fold the union is chosen unscored: its own stands in
        choice.fold_coverage[lv] = folds_cov.get((lv, m)) or folds_cov.get((lv, "own"), {})
    if not choice.calibrated:
        return forecast, choice, quantiles
    yhat = np.asarray(forecast["yhat"], dtype=float)
    conf = conformal_bounds(yhat, np.arange(1, len(yhat) + 1), quantiles, levels)
    bounds = {}
    for lv in levels:
        own = (np.asarray(forecast[f"yhat_lo_{lv}"], dtype=float), np.asarray(forecast[f"yhat_hi_{lv}"], dtype=float))
        bounds[lv] = {"own": own, "conformal": conf[lv], "union": union_bounds(own, conf[lv])}[methods[lv]]
    return finish(pd.DatetimeIndex(np.asarray(forecast["ds"])), yhat, bounds, levels), choice, quantiles


__all__ = ["BAND", "COVERAGE_TARGETS", "HOLD_CLIP", "IntervalChoice", "MIN_RESIDUALS_PER_BAND", "backtest_coverage",
           "calibrate", "choose_intervals", "conformal_bounds", "conformal_quantile", "hold_level", "level_gap",
           "residual_quantiles"]
