"""Accuracy of auto model selection on real and generated traffic: ``python -m bench.bench_accuracy``.

Series (hourly, 72 h horizon, the last 72 h of each window held out):
- NAB ``elb_request_count_8c0756`` and ``ec2_network_in_257a54`` (5-min, summed to hours; 2 origins each),
- NAB ``nyc_taxi`` (30-min, summed to hours; 10 origins, 8 weeks of history each, holidays included),
- ``taxi_shift``: NYC taxi doubled from 2014-11-01 (a level shift made from a real series), 3 origins after it,
- generated routes from ``forecaster.samples.traffic.generate_counts`` (28 days of history, the
  weekly flash sale given as a regressor).

Per series: the model auto chose, rel_mae vs weekly seasonal naive on the held-out 72 h, MASE,
80/95% coverage of the final (possibly calibrated) intervals, fit+predict seconds per model.
Summary: share of series where auto beats weekly seasonal naive (target >= 80%), median MASE and
pooled 80% coverage (target 0.75-0.88). Writes ``bench/out/accuracy_<preset>.md``; ``accuracy.md``
for the default.

``--cases holdout`` runs the same on other windows (``holdout_cases``: 8 other NYC taxi origins,
the ELB/EC2 windows 36 h earlier — those files are short, so these test windows overlap the
default ones by half — and generated routes of another seed and month): a check that what the
default set shows is not fitted to it.
"""

from __future__ import annotations

import argparse
import logging
import time
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bench._util import OUT, REPO, header
from forecaster.forecast.models import get_model
from forecaster.forecast.selection import PRESET_FOLDS, fit_predict_auto, preset_models

NAB = REPO / "data" / "realdata" / "nab"
HORIZON = 72
STEP = pd.Timedelta("1h")
TAXI_ORIGINS = ("2014-09-15", "2014-10-06", "2014-10-27", "2014-11-17", "2014-11-26", "2014-12-08",
                "2014-12-23", "2014-12-30", "2015-01-12", "2015-01-25")
#: NYC taxi doubled from SHIFT_AT: test windows 3, 10 and 24 days after the shift
SHIFT_AT, SHIFT_ORIGINS = pd.Timestamp("2014-11-01"), ("2014-11-04", "2014-11-11", "2014-11-25")
GENERATED_START, GENERATED_DAYS = pd.Timestamp("2026-01-08"), 31  # test window holds a Thursday flash sale
HOLDOUT_TAXI_ORIGINS = ("2014-09-01", "2014-09-24", "2014-10-16", "2014-11-06", "2014-12-02", "2014-12-15",
                        "2015-01-05", "2015-01-18")
HOLDOUT_GENERATED = (pd.Timestamp("2026-03-02"), 11)  # start, seed


@dataclass
class Case:
    name: str
    source: str
    history: pd.DataFrame  # ds, y
    test: pd.DataFrame  # ds, y
    regressors: pd.DataFrame | None = None  # spans history and test
    anomaly: bool = False  # the test window overlaps a NAB labelled anomaly window


def nab_windows(key: str) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """NAB's labelled anomaly windows of one file (``data/realdata/nab/windows.json``)."""
    import json

    windows = json.loads((NAB / "windows.json").read_text())
    return [(pd.Timestamp(a), pd.Timestamp(b)) for a, b in windows.get(key, [])]


def overlaps(test: pd.DataFrame, windows) -> bool:
    lo, hi = test.ds.iloc[0], test.ds.iloc[-1] + STEP
    return any(a < hi and b > lo for a, b in windows)


def hourly(path, per_hour: int) -> pd.DataFrame:
    """Sum a NAB file to hours, dropping incomplete hours."""
    raw = pd.read_csv(path, parse_dates=["timestamp"])
    grouped = raw.set_index("timestamp")["value"].resample("1h")
    frame = pd.DataFrame({"y": grouped.sum(), "n": grouped.count()})
    frame.loc[frame["n"] < per_hour, "y"] = np.nan
    frame = frame.reset_index().rename(columns={"timestamp": "ds"})[["ds", "y"]]
    while frame["y"].iloc[[0, -1]].isna().any():
        frame = frame.iloc[1:] if np.isnan(frame["y"].iloc[0]) else frame.iloc[:-1]
    return frame.reset_index(drop=True)


def split(frame: pd.DataFrame, end: pd.Timestamp, history: pd.Timedelta | None = None) -> tuple:
    test = frame[(frame.ds >= end) & (frame.ds < end + HORIZON * STEP)]
    train = frame[frame.ds < end]
    if history is not None:
        train = train[train.ds >= end - history]
    return train.reset_index(drop=True), test.reset_index(drop=True)


def nab_cases(taxi_origins: tuple[str, ...] = TAXI_ORIGINS, aws_offset: pd.Timedelta = pd.Timedelta(0),
              prefix: str = "nab") -> list[Case]:
    """The NAB windows: the last two 72 h of ELB and EC2 (moved ``aws_offset`` earlier), NYC taxi at each origin."""
    cases = []
    for file, label in (("elb_request_count_8c0756.csv", "elb"), ("ec2_network_in_257a54.csv", "ec2")):
        frame = hourly(NAB / file, 12)
        windows = nab_windows(f"realAWSCloudwatch/{file}")
        last = frame.ds.iloc[-1] + STEP - aws_offset
        for k, end in enumerate((last - HORIZON * STEP, last - 2 * HORIZON * STEP)):
            train, test = split(frame, end)
            cases.append(Case(f"{prefix}_{label}_{k}", "nab", train, test, anomaly=overlaps(test, windows)))
    taxi = hourly(NAB / "nyc_taxi.csv", 2)
    windows = nab_windows("realKnownCause/nyc_taxi.csv")
    for origin in taxi_origins:
        train, test = split(taxi, pd.Timestamp(origin), pd.Timedelta("56D"))
        cases.append(Case(f"{prefix}_taxi_{origin}", "nab", train, test, anomaly=overlaps(test, windows)))
    shifted = taxi.assign(y=np.where(taxi.ds >= SHIFT_AT, 2 * taxi.y, taxi.y))
    for origin in SHIFT_ORIGINS:   # a level shift made from a real series (none of them has one)
        train, test = split(shifted, pd.Timestamp(origin), pd.Timedelta("56D"))
        cases.append(Case(f"{prefix}_taxi_shift_{origin}", "nab", train, test, anomaly=overlaps(test, windows)))
    return cases


def generated_cases(seed: int = 7, start: pd.Timestamp = GENERATED_START, prefix: str = "gen") -> list[Case]:
    from forecaster.samples.events import default_events
    from forecaster.samples.traffic import generate_counts

    end = start + pd.Timedelta(days=GENERATED_DAYS)
    counts = generate_counts(start, end, "1h", seed=seed)
    events = default_events(start, end)
    cut = end - HORIZON * STEP
    cases = []
    for (api, route, region), part in counts.groupby(["api", "route", "region"], sort=True):
        if part["requests"].sum() == 0:
            continue
        frame = pd.DataFrame({"ds": pd.DatetimeIndex(part["ts"]), "y": part["requests"].to_numpy(float)})
        regs = pd.DataFrame({"ds": frame.ds})
        t = frame.ds.to_numpy(dtype="datetime64[ns]")
        for ev in events:
            if ev.applies(api, route, region):
                column = f"event_{ev.name}"
                w = ev.profile(t)
                regs[column] = np.maximum(regs.get(column, 0.0), w)
                regs[column + "_uplift"] = np.where(w > 0, ev.expected_uplift, regs.get(column + "_uplift", 0.0))
        train, test = split(frame, cut)
        cases.append(Case(f"{prefix}_{api}_{route}_{region}".replace(" ", "_"), "generated", train, test,
                          regs if len(regs.columns) > 1 else None))
    return cases


def holdout_cases() -> list[Case]:
    """Windows the default set does not hold: other taxi origins, ELB/EC2 36 h earlier, another generated month."""
    start, seed = HOLDOUT_GENERATED
    return (nab_cases(HOLDOUT_TAXI_ORIGINS, pd.Timedelta("36h"), prefix="hold")
            + generated_cases(seed, start, prefix="hold_gen"))


CASES = {"default": lambda: nab_cases() + generated_cases(), "holdout": holdout_cases}


def mae(a: np.ndarray, f: np.ndarray) -> float:
    ok = np.isfinite(a)
    return float(np.mean(np.abs(a[ok] - f[ok])))


def evaluate(case: Case, preset: str, folds: int, time_models: bool) -> dict:
    y = case.test["y"].to_numpy(float)
    future = case.regressors[case.regressors.ds >= case.test.ds.iloc[0]] if case.regressors is not None else None
    history_regs = case.regressors[case.regressors.ds < case.test.ds.iloc[0]] if case.regressors is not None else None
    t0 = time.perf_counter()
    forecast, choice = fit_predict_auto(case.history, HORIZON, STEP, preset, folds, 0, history_regs, future)
    auto_s = time.perf_counter() - t0
    naive = get_model("seasonal_naive_weekly", step=STEP).fit(case.history).predict(HORIZON)
    hy = case.history["y"].to_numpy(float)
    d = np.abs(hy[168:] - hy[:-168])
    scale = float(np.nanmean(d))
    ok = np.isfinite(y)
    row = {
        "series": case.name, "source": case.source, "anomaly": case.anomaly, "n_train": len(case.history),
        "chosen": choice.model,
        "calibrated": choice.calibrated,
        "rel_mae": mae(y, forecast.yhat.to_numpy()) / mae(y, naive.yhat.to_numpy()),
        "mase": mae(y, forecast.yhat.to_numpy()) / scale,
        "cov_80": float(np.mean((y[ok] >= forecast.yhat_lo_80[ok]) & (y[ok] <= forecast.yhat_hi_80[ok]))),
        "cov_95": float(np.mean((y[ok] >= forecast.yhat_lo_95[ok]) & (y[ok] <= forecast.yhat_hi_95[ok]))),
        "n_test": int(ok.sum()), "auto_s": auto_s,
    }
    if time_models:
        for name in preset_models(preset):
            t0 = time.perf_counter()
            try:
                get_model(name, step=STEP, seed=0).fit(case.history, history_regs).predict(HORIZON, future_regressors=future)
                row[f"s_{name}"] = time.perf_counter() - t0
            except Exception:  # noqa: BLE001 - a failing model is reported as missing time
                row[f"s_{name}"] = float("nan")
    return row


def md_table(frame: pd.DataFrame, index: bool = False) -> str:
    """A markdown table without the optional ``tabulate`` dependency."""
    if index:
        frame = frame.reset_index()
    cells = [[f"{v:.3f}" if isinstance(v, float) else str(v) for v in row] for row in frame.itertuples(index=False)]
    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + " --- |" * len(frame.columns)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in cells])


def summarize(rows: pd.DataFrame) -> pd.DataFrame:
    out = []
    sets = [("all", rows), *rows.groupby("source"), ("nab, test without labelled anomaly", rows[
        (rows.source == "nab") & ~rows.anomaly]), ("all, test without labelled anomaly", rows[~rows.anomaly])]
    for label, part in sets:
        w = part["n_test"]
        out.append({"set": label, "series": len(part),
                    "auto beats weekly naive": f"{(part.rel_mae < 1).mean():.0%}",
                    "median rel_mae": round(part.rel_mae.median(), 3),
                    "median MASE": round(part.mase.median(), 3),
                    "geo-mean rel_mae": round(float(np.exp(np.log(part.rel_mae).mean())), 3),
                    "coverage 80 (pooled)": round(float(np.average(part.cov_80, weights=w)), 3),
                    "coverage 95 (pooled)": round(float(np.average(part.cov_95, weights=w)), 3),
                    "calibrated": f"{part.calibrated.mean():.0%}",
                    "auto s/series": round(part.auto_s.mean(), 3)})
    return pd.DataFrame(out)


def run(preset: str = "full", folds: int | None = None, time_models: bool = True, only: str | None = None,
        case_set: str = "default") -> str:
    logging.getLogger("cmdstanpy").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore")
    cases = CASES[case_set]()
    if only:
        cases = [c for c in cases if only in c.name]
    rows = pd.DataFrame([evaluate(c, preset, folds, time_models) for c in cases])
    summary = summarize(rows)
    timing = ""
    seconds = [c for c in rows.columns if c.startswith("s_")]
    if seconds:
        t = rows[seconds].mean().rename(lambda c: c[2:]).to_frame("mean fit+predict s").round(4)
        timing = "\n### fit + predict seconds per model (mean over series)\n\n" + md_table(t, index=True) + "\n"
    table = rows.drop(columns=seconds).round(3)
    command = f".venv/bin/python -m bench.bench_accuracy --preset {preset}" + (
        f" --cases {case_set}" if case_set != "default" else "")
    text = (header(f"Forecast accuracy, preset {preset}, {folds or PRESET_FOLDS[preset]} folds, 72 h horizon, "
                   f"{case_set} series", command)
            + "\n### summary\n\n" + md_table(summary)
            + "\n\n### per series\n\n" + md_table(table) + "\n" + timing)
    return text


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench.bench_accuracy")
    parser.add_argument("--preset", default="full")
    parser.add_argument("--folds", type=int, default=None, help="default: the preset's")
    parser.add_argument("--no-timing", action="store_true", help="skip per-model fit timing")
    parser.add_argument("--only", help="substring filter on series names")
    parser.add_argument("--cases", default="default", choices=sorted(CASES),
                        help="default: the benchmark's series; holdout: windows no tuning looked at")
    args = parser.parse_args(argv)
    text = run(args.preset, args.folds, not args.no_timing, args.only, args.cases)
    print(text)
    OUT.mkdir(parents=True, exist_ok=True)
    suffix = "" if args.cases == "default" else f"_{args.cases}"
    (OUT / f"accuracy_{args.preset}{suffix}.md").write_text(text)
    if args.preset == "full" and not args.only and args.cases == "default":
        (OUT / "accuracy.md").write_text(text)


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
