"""Spikes, intervals and accuracy on real series, as the scheduler runs them: ``bench_spikes --cases real``.

Series (hourly): NAB ``elb_request_count_8c0756``, ``ec2_network_in_257a54`` (5-min, summed to
hours), ``nyc_taxi`` (30-min, summed), and two made from them, since none has a level change of
its own: ``elb_shift`` (the ELB series doubled from its 9th day on: a level shift two days after
the first run, unannounced, so the runs before it cannot cover it), ``taxi_shift`` (NYC taxi
doubled from 2014-11-01: a level shift with two months of runs after it) and ``taxi_ramp`` (NYC
taxi multiplied by a ramp from 1 on 2014-10-01 to 2 on 2014-10-29, 2 after).

Runs: one as-of point a day at 00:00 (``--every`` days), from 7 days of history (ELB, EC2) or 8
weeks (taxi) until 72 h before the end; each run is :func:`forecaster.forecast.fit.fit_series`
(what a forecast run does per series: auto selection, fast preset, US holidays as the calendar)
on at most 56 days of history, 72 h ahead.

- **peak hours**: actual > 2x the same-hour-of-week median of the 4 weeks before it AND > 2x the
  median of the 7 days before it (what the issue calls a sharp peak). For the two made series, the
  peak hours of the series they are made from: a level shift or a ramp is not a peak.
- **spike precision**: share of reported spikes whose ``[start - 1h, end + 1h)`` holds a peak hour.
- **hour precision**: share of the hours inside reported spikes that are peak hours.
- **recall at >= 24 h**: share of (run, peak hour at least 24 h after as-of) inside a spike of
  that run reported with ``lead_time_hours >= 24`` (+-1 h).
- **flagged share**: hours inside spikes over all forecast hours.
- **coverage 80**: share of actuals inside the stored 80% interval, per series (target 0.75-0.88).
- **rel MAE**: the forecasts' MAE over all runs / the weekly seasonal naive's on the same hours.
- **probability**: spikes binned by their stated probability, with the share that *happened* (the
  actual rose above the spike's threshold in its window +-1 h: what the probability states) and the
  share that were real (held a peak hour).

Writes ``bench/out/<out>.md``, ``<stem>_cases.csv`` (one row per peak-hour case) and
``<stem>_reported.csv`` (one row per spike), so a regression is visible spike by spike.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from bench._util import OUT, header
from bench.bench_accuracy import NAB, hourly
from forecaster.forecast.events import holiday_events
from forecaster.forecast.fit import FitSpec, History, fit_series
from forecaster.forecast.models import get_model

H = pd.Timedelta("1h")
HORIZON = 72
HISTORY = pd.Timedelta("56D")
TOL = H


def real_series() -> dict[str, tuple[pd.DataFrame, pd.Timedelta, pd.DataFrame]]:
    """name -> (hourly frame ds, y; history needed before the first as-of point; the frame whose peaks count)."""
    elb = hourly(NAB / "elb_request_count_8c0756.csv", 12)
    ec2 = hourly(NAB / "ec2_network_in_257a54.csv", 12)
    taxi = hourly(NAB / "nyc_taxi.csv", 2)
    shift_at = elb.ds.iloc[0].normalize() + pd.Timedelta("9D")
    elb_shift = elb.assign(y=np.where(elb.ds >= shift_at, 2 * elb.y, elb.y))
    t = (taxi.ds - pd.Timestamp("2014-10-01")) / pd.Timedelta("28D")
    taxi_ramp = taxi.assign(y=np.round(taxi.y * (1 + np.clip(t, 0, 1))))
    taxi_shift = taxi.assign(y=np.where(taxi.ds >= pd.Timestamp("2014-11-01"), 2 * taxi.y, taxi.y))
    week, weeks8 = pd.Timedelta("7D"), pd.Timedelta("56D")
    return {"elb": (elb, week, elb), "ec2": (ec2, week, ec2), "taxi": (taxi, weeks8, taxi),
            "elb_shift": (elb_shift, week, elb), "taxi_ramp": (taxi_ramp, weeks8, taxi),
            "taxi_shift": (taxi_shift, weeks8, taxi)}


def peak_hours(frame: pd.DataFrame) -> np.ndarray:
    """True at hours above 2x both the same-hour-of-week median (4 weeks before) and the 7-day median before."""
    y = frame.y.to_numpy(float)
    n = len(y)
    lags = np.full((n, 4), np.nan)
    for k in range(1, 5):
        lags[168 * k:, k - 1] = y[:-168 * k] if n > 168 * k else []
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            how = np.nanmedian(lags, axis=1)
    local = pd.Series(y).shift(1).rolling(168, min_periods=72).median().to_numpy()
    with np.errstate(invalid="ignore"):
        return np.isfinite(y) & (y > 2 * how) & (y > 2 * local)


def run(every: int = 1, model: str = "auto", only: str | None = None, folds: int | None = None) -> tuple[str, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    cases, reported, per_series = [], [], []
    t_total = 0.0
    for name, (frame, warmup, source) in real_series().items():
        if only and only not in name:
            continue
        peaks = peak_hours(source)
        ds = frame.ds.to_numpy(dtype="datetime64[ns]")
        y = frame.y.to_numpy(float)
        first = (frame.ds.iloc[0] + warmup).ceil("1D")
        last = frame.ds.iloc[-1] + H - HORIZON * H
        events = tuple(holiday_events("US", frame.ds.iloc[0], frame.ds.iloc[-1] + pd.Timedelta("4D")))
        err, err_naive, hits, n_obs, flagged_h, horizon_h, runs = 0.0, 0.0, 0, 0, 0, 0, 0
        for as_of in pd.date_range(first, last, freq=f"{every}D"):
            keep = (frame.ds < as_of) & (frame.ds >= as_of - HISTORY)
            hist = History(ds[keep.to_numpy()], y[keep.to_numpy()])
            spec = FitSpec(horizon=HORIZON, step="1h", model=model, preset="fast", folds=folds, as_of=as_of,
                           events=events, min_ratio=1.5, min_peak=5.0, **_excess(FitSpec))
            t0 = time.perf_counter()
            r = fit_series(f"real:{name}", hist, spec)
            t_total += time.perf_counter() - t0
            runs += 1
            test = (frame.ds >= as_of) & (frame.ds < as_of + HORIZON * H)
            ty, tpeak, tds = y[test.to_numpy()], peaks[test.to_numpy()], frame.ds[test].to_numpy()
            f = {c: np.asarray(v) for c, v in r.forecast.items()}
            fds = f["ds"].astype("datetime64[ns]")
            pos = np.searchsorted(fds, tds)
            yhat, lo, hi = f["yhat"][pos], f["yhat_lo_80"][pos], f["yhat_hi_80"][pos]
            naive = get_model("seasonal_naive_weekly", step=H).fit(pd.DataFrame({"ds": hist.ds, "y": hist.y})).predict(HORIZON)
            nv = naive["yhat"].to_numpy(float)[np.searchsorted(naive["ds"].to_numpy(dtype="datetime64[ns]"), tds)]
            ok = np.isfinite(ty)
            err += float(np.abs(ty[ok] - yhat[ok]).sum())
            err_naive += float(np.abs(ty[ok] - nv[ok]).sum())
            hits += int(((ty[ok] >= lo[ok]) & (ty[ok] <= hi[ok])).sum())
            n_obs += int(ok.sum())
            horizon_h += HORIZON
            spans = [(pd.Timestamp(s.start_ts), pd.Timestamp(s.end_ts), s) for s in r.spikes]
            for s0, s1, s in spans:
                inside = (tds >= s0.to_datetime64()) & (tds < s1.to_datetime64())
                near = (tds >= (s0 - TOL).to_datetime64()) & (tds < (s1 + TOL).to_datetime64())
                flagged_h += int(inside.sum())
                reported.append({"series": name, "as_of": as_of, "start": s0, "peak_ts": s.peak_ts, "end": s1,
                                 "hours": int((s1 - s0) / H), "peak_hours_inside": int((inside & tpeak).sum()),
                                 "ratio": s.ratio, "probability": s.probability, "lead_h": s.lead_time_hours,
                                 "peak": s.peak, "baseline": s.baseline, "threshold": s.threshold, "model": r.model,
                                 "happened": bool((near & np.isfinite(ty) & (ty > s.threshold)).any()),
                                 "reason": s.reason, "real": bool((near & tpeak).any())})
            for t in tds[tpeak]:
                lead = (pd.Timestamp(t) - as_of) / H
                if lead < 24:
                    continue
                found = any(s.lead_time_hours >= 24 and s0 - TOL <= pd.Timestamp(t) < s1 + TOL for s0, s1, s in spans)
                cases.append({"series": name, "as_of": as_of, "peak_hour": pd.Timestamp(t), "lead_h": lead,
                              "actual": float(y[ds == t][0]), "found": found, "model": r.model})
        per_series.append({"series": name, "runs": runs, "coverage_80": hits / n_obs if n_obs else float("nan"),
                           "rel_mae": err / err_naive if err_naive else float("nan"),
                           "flagged_share": flagged_h / horizon_h if horizon_h else 0.0})
    cases_df, rep, ser = pd.DataFrame(cases), pd.DataFrame(reported), pd.DataFrame(per_series)
    return _report(cases_df, rep, ser, every, model, t_total), cases_df, rep, ser


def _excess(spec_class) -> dict:
    """The run's default minimum spike excess and probability (settings.spike_min_excess,
    spike_min_probability) where the code has them."""
    from forecaster.config import Settings

    fields = getattr(spec_class, "__dataclass_fields__", {})
    settings = Settings()
    out = {"min_excess": settings.spike_min_excess} if "min_excess" in fields else {}
    if "min_probability" in fields:
        out["min_probability"] = settings.spike_min_probability
    return out


def _rates(cases: pd.DataFrame, rep: pd.DataFrame) -> dict:
    n_h = rep.hours.sum() if len(rep) else 0
    return {"spikes": len(rep), "spike precision": rep.real.mean() if len(rep) else float("nan"),
            "hour precision": rep.peak_hours_inside.sum() / n_h if n_h else float("nan"),
            "peak cases": len(cases), "recall >= 24h": cases.found.mean() if len(cases) else float("nan")}


def _report(cases, rep, ser, every, model, seconds) -> str:
    from bench.bench_spikes import _md

    rows = []
    for name in ser.series:
        c = cases[cases.series == name] if len(cases) else cases
        r = rep[rep.series == name] if len(rep) else rep
        rows.append({"series": name, **_rates(c, r), **ser[ser.series == name].drop(columns="series").iloc[0].to_dict()})
    rows.append({"series": "all", **_rates(cases, rep)})
    from bench.bench_spikes import reliability

    calib = reliability(rep) if len(rep) else "none\n"
    return "\n".join([
        header("Spikes, intervals and accuracy on real series (daily as-of runs, 72 h ahead)",
               f".venv/bin/python -m bench.bench_spikes --cases real --every {every} --model {model}"),
        f"- series: NAB elb, ec2, nyc_taxi; elb_shift (ELB x2 from day 9), taxi_ramp (taxi x1 -> x2 over "
        f"October 2014), taxi_shift (taxi x2 from 2014-11-01); fit_series per run, fit+predict {seconds:.0f}s in all\n",
        _md(pd.DataFrame(rows)), "\n### stated probability vs share of spikes that happened (actual above the spike's threshold "
        "in its window +-1 h) and that were real (a peak hour)\n", calib])
