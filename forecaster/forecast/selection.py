"""Automatic model choice per series, and calibrated intervals (pure).

``fit_predict_auto`` is what the orchestrator calls per series:

1. Backtest every candidate of the preset on rolling origins (``forecaster.backtest``); slow
   models (a ``slow`` rule on the model's class) only on their most recent fold(s), only with enough history, and only
   where the cheap models do poorly (best mean rel_mae >= ``SLOW_GATE_REL_MAE``), so that the
   full preset fits the time budget (see ``bench/bench_models.py``, ``bench/bench_forecast.py``).
   A combining model's backtest (the seasonal blend's) is built from its components' (the class's
   ``derived_backtest``): no fit.
2. The lowest mean rel_mae over all folds wins; a slow model, scored on the latest fold(s) only,
   replaces it only if it beats it on those same folds by ``SLOW_MARGIN`` (a fair comparison:
   one lucky fold against a three-fold mean would favour the slow models). Seasonal naive is the floor: always a candidate, and the choice
   when every other candidate fails or the history is too short to backtest (``reason`` says which).
3. Refit the winner on the whole history and predict.
4. Calibrate (``forecaster.conformal``): per level, the winner's own interval, the conformal one
   from its backtest residuals (log1p scale, per horizon band, finite-sample quantiles), or their
   union, whichever covered the backtest folds closest to the level out of sample.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .backtest import evaluate_arrays, make_folds, score_records
from .conformal import IntervalChoice, calibrate, residual_quantiles
from ..errors import InsufficientHistory, UnknownName
from .models import get_model
from .models.base import SlowRule, model_class
from .models.common import HistoryLike, prepare

log = logging.getLogger(__name__)

CHEAP = ("seasonal_naive_daily", "seasonal_naive_weekly", "seasonal_profile", "ets")
#: the blend (no fit of its own in backtest) stands in for the slow models in the fast preset; in the
#: full one its lower backtest score pre-empted the slow-model gate and crowded out Prophet, which
#: measured better on the generated hold-out series (bench_accuracy --cases holdout), so it is left out.
FAST = CHEAP[:3] + ("seasonal_blend",) + CHEAP[3:]
PRESETS: dict[str, tuple[str, ...]] = {"fast": FAST, "full": CHEAP + ("mstl", "prophet")}
PRESET_FOLDS = {"fast": 2, "full": 3}  # default backtest folds per preset (the fast one has a 60 s budget)
FLOOR = "seasonal_naive_weekly"
SLOW_MARGIN = 0.05  # a slow model scored on fewer folds must win by this much on those folds
#: slow models are backtested only where the cheap ones do poorly: best fast candidate's mean rel_mae
#: at least this. Measured (bench_forecast --preset full --routes 100, 143 series): prophet/mstl won
#: 18 series, 16 of them where the cheap models' best was >= 0.87; 43 series (30%) are below it, so
#: the gate cuts ~30% of the slow fits for 2 of 18 slow wins (each by >= 5% on one fold).
SLOW_GATE_REL_MAE = 0.87


@dataclass
class Choice:
    """The outcome of auto selection for one series."""

    model: str
    scores: pd.DataFrame  # one row per candidate and fold (model, fold, cutoff, metrics..., error)
    reason: str
    residual_quantiles: pd.DataFrame = field(default_factory=pd.DataFrame)  # h_from, h_to, n, q_lo_80...
    calibrated: bool = False  # some level's interval is not the model's own (see ``intervals``)
    backtest: dict | None = None  # the winner's backtest columns (fold, h, y, yhat, intervals): what calibrates
    intervals: IntervalChoice = field(default_factory=IntervalChoice)

    def summary(self) -> pd.DataFrame:
        """Mean metrics per candidate, best first."""
        if self.scores.empty or "rel_mae" not in self.scores:
            return pd.DataFrame()
        ok = self.scores[self.scores["error"].isna()]
        return ok.groupby("model").mean(numeric_only=True).sort_values("rel_mae").drop(columns="fold")


def slow_rule(name: str) -> SlowRule | None:
    """The auto-selection budget the model's class declares (None: a cheap model, or an unknown name,
    which then fails as a candidate like any other)."""
    try:
        return model_class(name).slow
    except UnknownName:
        return None


def preset_models(preset: str) -> tuple[str, ...]:
    try:
        return PRESETS[preset]
    except KeyError:
        raise UnknownName("preset", preset, list(PRESETS)) from None


def choose_model(history: HistoryLike, candidates: tuple[str, ...] | list[str], horizon: int, folds: int = 3,
                 step: pd.Timedelta | None = None, seed: int = 0,
                 regressors: pd.DataFrame | None = None) -> Choice:
    """Backtest each candidate and pick the lowest mean rel_mae; seasonal naive is the floor and fallback."""
    data = prepare(history, step)
    try:
        built = make_folds(history, horizon, folds, data.step, seed, regressors)
    except InsufficientHistory as e:
        return Choice(FLOOR, pd.DataFrame(), f"{FLOOR}: history too short to backtest ({e})")
    span = data.ds[-1] - data.ds[0] + data.step
    records: list[dict] = []
    forecasts: dict[str, dict] = {}
    skipped: list[str] = []
    per_fold: dict[str, dict[int, float]] = {}
    names = list(dict.fromkeys([FLOOR, *candidates]))
    for name in [n for n in names if slow_rule(n) is None] + [n for n in names if slow_rule(n) is not None]:
        rule = slow_rule(name)
        if rule and span < rule.min_history:
            skipped.append(f"{name} (needs {rule.min_history.days} days, history {span})")
            continue
        cheap_best = _best_mean(per_fold) if rule else None
        if cheap_best is not None and cheap_best < SLOW_GATE_REL_MAE:
            skipped.append(f"{name} (cheap models already at rel_mae {cheap_best:.3f} < {SLOW_GATE_REL_MAE})")
            continue
        use = built[: rule.folds] if rule else built
        try:
            fc = _derived_backtest(name, use, forecasts)
            if fc is None:
                fc = evaluate_arrays(use, name, horizon, seed)
        except Exception as e:  # any model failure means "not this model", never "no forecast"
            log.info("candidate %s failed in backtest: %s", name, e)
            records.append({"model": name, "error": f"{type(e).__name__}: {e}"})
            continue
        forecasts[name] = fc
        fold_rows = score_records(fc)
        records.extend({"model": name, **row, "error": None} for row in fold_rows)
        rel = {r["fold"]: r["rel_mae"] for r in fold_rows if not math.isnan(r["rel_mae"])}
        if rel:
            per_fold[name] = rel
    table = pd.DataFrame(records)
    failed = sorted({r["model"] for r in records if r["error"] is not None})
    if not per_fold:
        return Choice(FLOOR, table, f"{FLOOR}: no candidate could be scored (failed: {', '.join(failed)})")
    best, reason = pick(per_fold, len(built), horizon)
    if failed:
        reason += f"; failed: {', '.join(failed)}"
    if skipped:
        reason += f"; skipped: {', '.join(skipped)}"
    winner = forecasts[best]
    return Choice(best, table, reason, residual_quantiles(winner, data.step, len(np.unique(winner["fold"]))),
                  backtest=winner)


def _derived_backtest(name: str, folds, forecasts: dict) -> dict | None:
    """The backtest of a candidate built from others already backtested on the same folds (a model
    with ``components``, such as the seasonal blend: no fit); None when it has to be evaluated."""
    cls = model_class(name)
    return cls.derived_backtest(folds, forecasts) if cls.components else None


def _best_mean(per_fold: dict[str, dict[int, float]]) -> float | None:
    """The lowest mean rel_mae among the (cheap) models scored so far; None when none was."""
    means = [float(np.mean(list(v.values()))) for m, v in per_fold.items() if v and slow_rule(m) is None]
    return min(means) if means else None


#: simplest first: of candidates whose scores tie (within ``TIE``), the simplest wins
SIMPLICITY = (FLOOR, "seasonal_naive_daily", "seasonal_profile", "seasonal_blend", "ets", "mstl", "prophet")
CALIBRATION_FOLDS = 3   # backtest folds of the chosen model behind its intervals (see calibration_backtest)
TIE = 0.005  # relative difference of mean rel_mae under which two candidates tie


def simplicity(model: str) -> int:
    """Rank of ``model`` in :data:`SIMPLICITY` (models not listed rank after every listed one)."""
    return SIMPLICITY.index(model) if model in SIMPLICITY else len(SIMPLICITY)


def pick(per_fold: dict[str, dict[int, float]], n_folds: int, horizon: int) -> tuple[str, str]:
    """The winner and why: lowest mean rel_mae among the models scored on every fold, ties (within
    ``TIE``) to the simpler; a slow model (scored on fewer folds) wins only if it beats that winner on
    the same folds by ``SLOW_MARGIN``. Never a model worse than the weekly naive floor on the folds
    that decide (its own): a candidate must score strictly below the floor there."""
    def mean(model: str, folds=None) -> float:
        values = [v for f, v in per_fold[model].items() if folds is None or f in folds]
        return float(np.mean(values)) if values else float("inf")

    def beats_floor(model: str, folds=None) -> bool:
        if model == FLOOR or FLOOR not in per_fold:
            return True
        return mean(model, folds) < mean(FLOOR, folds) * (1 - TIE)

    full = [m for m in per_fold if slow_rule(m) is None] or list(per_fold)
    eligible = [m for m in full if beats_floor(m)] or ([FLOOR] if FLOOR in per_fold else full)
    low = min(mean(m) for m in eligible)
    best = min((m for m in eligible if mean(m) <= low * (1 + TIE)), key=lambda m: (simplicity(m), mean(m), m))
    reason = (f"{best}: lowest mean rel_mae {mean(best):.3f} over {n_folds} fold(s) of {horizon} steps "
              f"(weekly seasonal naive = 1)")
    if best == FLOOR:
        reason = f"{FLOOR}: no candidate beat the seasonal naive floor"
    challengers = []
    for slow in (m for m in per_fold if slow_rule(m) is not None and m not in full):
        folds = set(per_fold[slow])
        ratio = mean(slow) / mean(best, folds) if mean(best, folds) > 0 else float("inf")
        if ratio < 1 - SLOW_MARGIN and beats_floor(slow, folds):
            challengers.append((ratio, slow, len(folds)))
    if challengers:
        ratio, slow, k = min(challengers)
        reason = (f"{slow}: rel_mae {mean(slow):.3f} on the latest {k} fold(s), {1 - ratio:.0%} below "
                  f"{best} on the same fold(s) (fast candidates' best over {n_folds}: {mean(best):.3f})")
        best = slow
    return best, reason


def calibration_backtest(history, choice: Choice, horizon: int, step: pd.Timedelta, seed: int,
                         regressors: pd.DataFrame | None) -> dict | None:
    """The winner's backtest, extended to ``CALIBRATION_FOLDS`` folds for its intervals alone.

    Selection scores every candidate on the preset's folds (fast: 2); the intervals of the one
    chosen need more of its out-of-sample errors than that to cover near their level where the
    level moves (measured: ``bench_spikes --cases real``, 80% coverage on the NYC taxi ramp and
    shift 0.74 / 0.77 with 2 folds, 0.76 / 0.78 with 3). One more fit of one model, not of every
    candidate, and only where the preset's folds are not settled (a fold of the chosen 80% interval
    outside ``SETTLED_80``: a moving level, a regime change; ``_settled``). Slow models keep their
    budget (their single fold takes the union interval)."""
    bt = choice.backtest
    if bt is None or slow_rule(choice.model) is not None:
        return bt
    have = {int(f) for f in np.unique(bt["fold"])}
    if len(have) >= CALIBRATION_FOLDS:
        return bt
    try:
        folds = make_folds(history, horizon, CALIBRATION_FOLDS, step, seed, regressors)
        extra = [f for f in folds if f.index not in have]
        if not extra:
            return bt
        more = evaluate_arrays(extra, choice.model, horizon, seed)
    except Exception as e:  # noqa: BLE001 - calibration on fewer folds is still calibration
        log.info("no extra calibration fold for %s: %s", choice.model, e)
        return bt
    return {c: np.concatenate([np.asarray(bt[c]), np.asarray(more[c])]) for c in bt if c in more}


#: the chosen 80% interval's folds all covered inside this: settled, no extra calibration fold
SETTLED_80 = (0.78, 0.86)


def _settled(intervals) -> bool:
    """True when every fold of the chosen 80% interval covered within ``SETTLED_80`` (inside the
    benchmark's target ``COVERAGE_TARGETS[80]`` with a margin: a steady series, where more folds
    would not change the intervals much and cost a fit)."""
    lo, hi = SETTLED_80
    by_fold = intervals.fold_coverage.get(80) or {}
    return len(by_fold) >= 2 and all(lo <= c <= hi for c in by_fold.values())


def _report_stored_coverage(choice: Choice) -> None:
    """The winner's backtest rows report the coverage of the intervals the run stores (the chosen
    own / conformal / union per level, out of sample), not the model's own, when they differ."""
    if choice.scores.empty or "fold" not in choice.scores:
        return
    rows = choice.scores["model"] == choice.model
    for level, by_fold in choice.intervals.fold_coverage.items():
        column = f"coverage_{level}"
        if column in choice.scores and by_fold and choice.intervals.methods.get(level) != "own":
            folds = choice.scores.loc[rows, "fold"]
            choice.scores.loc[rows, column] = [by_fold.get(int(f), np.nan) if f == f else np.nan for f in folds]


def fit_predict_auto(history: HistoryLike, horizon: int, step: pd.Timedelta | None = None,
                     preset: str = "fast", folds: int | None = None, seed: int = 0,
                     regressors: pd.DataFrame | None = None,
                     future_regressors: pd.DataFrame | None = None) -> tuple[pd.DataFrame, Choice]:
    """Choose a model for one series, refit it on the whole history, forecast, calibrate the intervals.

    ``folds`` defaults to the preset's (``PRESET_FOLDS``). Returns the forecast frame (ds, yhat,
    yhat_lo_80, yhat_hi_80, yhat_lo_95, yhat_hi_95) and the Choice.
    A winner that fails on the full history falls back to seasonal naive (said in ``reason``).
    """
    levels = (80, 95)
    history = prepare(history, step)  # validated once; the folds and every candidate reuse it
    step = history.step
    candidates = preset_models(preset)
    folds = folds or PRESET_FOLDS.get(preset, 3)
    choice = choose_model(history, candidates, horizon, folds, step, seed, regressors)
    try:
        model = get_model(choice.model, step=step, seed=seed).fit(history, regressors)
        forecast = model.predict(horizon, levels, future_regressors)
    except Exception as e:  # refit failed: fall back to the floor, and say so
        log.warning("refit of %s failed, falling back to %s: %s", choice.model, FLOOR, e)
        choice.reason = f"{FLOOR}: refit of {choice.model} failed ({type(e).__name__}: {e}); was: {choice.reason}"
        choice.model, choice.residual_quantiles, choice.backtest = FLOOR, pd.DataFrame(), None
        forecast = get_model(FLOOR, step=step, seed=seed).fit(history).predict(horizon, levels)
    own = forecast
    forecast, choice.intervals, quantiles = calibrate(own, choice.backtest, step, levels)
    if not _settled(choice.intervals):   # the folds disagree or miss the level: one more fold of evidence
        extended = calibration_backtest(history, choice, horizon, step, seed, regressors)
        if extended is not choice.backtest:
            choice.backtest = extended
            forecast, choice.intervals, quantiles = calibrate(own, extended, step, levels)
    if not quantiles.empty:
        choice.residual_quantiles = quantiles
    _report_stored_coverage(choice)
    if choice.intervals.calibrated:
        choice.calibrated = True
        choice.reason += "; calibrated " + choice.intervals.describe()
    return forecast, choice
