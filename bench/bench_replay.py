"""Replay benchmark: throttle policies on real traffic (NAB AWS ELB request counts at 5 minutes, NYC
taxi demand at 30 minutes) and on the samples' hourly counts, through the token-bucket model.

For each series: the four policies as they run (settings' defaults), then the fair comparison the
acceptance asks for: the static and daily-peak limits scaled to the predictive policy's capacity
ratio (the best of each that provisions no more than it does), and the reduction in throttled
requests. Also the wall time of each replay (hourly decisions, re-forecast at every one).

    .venv/bin/python -m bench.bench_replay [--out FILE.md]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bench._util import REPO, header, scratch, write_report
from forecaster.config import Settings
from forecaster.decide.replay import load_traffic, replay, score
from forecaster.ingest import ingest
from forecaster.store import open_store

NAB = REPO / "data" / "realdata" / "nab"
EVENTS = REPO / "data" / "samples" / "events.csv"
CASES = [
    # (label, series, from, to, history days)
    ("NAB AWS ELB request count (5 min)", "api:elb", "2014-04-17", None, 7),
    ("NYC taxi demand (30 min), 6 weeks", "api:taxi", "2014-11-01", "2014-12-13", 28),
    ("NYC taxi demand (30 min), Jul 2014 - Jan 2015", "api:taxi", "2014-08-01", "2015-02-01", 28),
    ("NYC taxi spread per minute (timing: 6 weeks at 1 min)", "api:taxi_1m", "2014-11-01", "2014-12-13", 28),
    ("samples: shop api, hourly counts", "api:shop", "2026-11-11", None, 14),
    ("samples: every us-east-1 route, hourly counts", "region:us-east-1", "2026-11-11", None, 14),
    ("samples: shop api, hourly counts, with the events calendar", "api:shop", "2026-11-11", None, 14, EVENTS),
    ("samples: every us-east-1 route, with the events calendar", "region:us-east-1", "2026-11-11", None, 14, EVENTS),
]


def load(work: Path) -> Path:
    """NAB series as counts CSVs (one api each), plus the samples' hourly counts, into one DuckDB."""
    files = []
    for api, name in (("elb", "elb_request_count_8c0756.csv"), ("taxi", "nyc_taxi.csv")):
        d = pd.read_csv(NAB / name)
        out = pd.DataFrame({"timestamp": pd.to_datetime(d["timestamp"]).dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
                            "api": api, "region": "nab", "route": f"GET /{api}", "requests": d["value"].round().astype(int)})
        p = work / f"{api}.csv"
        out.to_csv(p, index=False)
        files.append(str(p))
    # timing only: the taxi series spread evenly over the minutes of each half hour (a per-minute series)
    d = pd.read_csv(NAB / "nyc_taxi.csv")
    ts = pd.to_datetime(d["timestamp"])
    minutes = pd.DataFrame({"timestamp": (ts.values[:, None] + pd.to_timedelta(np.arange(30), "m").values[None, :]).ravel()})
    minutes["requests"] = np.repeat(d["value"].to_numpy() / 30.0, 30).round().astype(int)
    minutes["timestamp"] = minutes["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    minutes.assign(api="taxi_1m", region="nab", route="GET /taxi_1m").to_csv(work / "taxi_1m.csv", index=False)
    files.append(str(work / "taxi_1m.csv"))
    db = work / "replay.duckdb"
    s = Settings(db=db)
    with open_store(db, s) as con:
        ingest(con, files, s, fmt="counts")
        # the samples under their own region, so that region:us-east-1 is the samples' total there
        ingest(con, [str(REPO / "data" / "samples" / "counts_hourly.csv")], s, fmt="counts")
    return db


def fmt(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:,.2f}"


def run_case(con, settings: Settings, label: str, series: str, start: str, end: str | None, days: int,
             events: Path | None = None) -> tuple[list[str], dict]:
    t0 = time.perf_counter()
    tr = load_traffic(con, series, pd.Timestamp(start), pd.Timestamp(end) if end else None, history_days=days,
                      events_file=events)
    limits: dict[str, np.ndarray] = {}
    out = replay(tr, settings, ["static", "daily_peak", "reactive", "predictive"], limits=limits)
    secs = time.perf_counter() - t0
    rows = {p["policy"]: p for p in out["policies"]}
    pred = rows["predictive"]
    comps = []
    for name in ("static", "daily_peak"):
        k = pred["capacity_ratio"] / rows[name]["capacity_ratio"]
        comps.append(score(f"{name} x{k:.2f} (same capacity)", tr, limits[name] * k, settings))
    eligible = [r for r in [rows["static"], rows["daily_peak"], *comps] if r["capacity_ratio"] <= pred["capacity_ratio"] * (1 + 1e-9)]
    best = min(eligible, key=lambda r: r["throttled"])
    reduction = 1 - pred["throttled"] / best["throttled"] if best["throttled"] > 0 else (0.0 if pred["throttled"] > 0 else None)
    steps = len(tr.requests) - tr.start
    lines = [f"### {label}", "",
             f"`{series}`, {out['from'][:16]} .. {out['to'][:16]}, step {tr.step_s / 60:g} min ({steps:,} steps), "
             f"{days} days of history before; replay of all four policies {secs:.2f} s.", "",
             "| policy | requests | throttled | share | capacity ratio | minutes over capacity | mean limit rps |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in [*out["policies"], *comps]:
        lines.append(f"| {r['policy']} | {r['requests']:,} | {fmt(r['throttled'])} | {r['throttled_share']:.4%} | "
                     f"{r['capacity_ratio']:.2f} | {r['overload_minutes']:,} | {r['mean_limit_rps']:.2f} |")
    ok = reduction is not None and reduction >= 0.9 and pred["overload_minutes"] <= best["overload_minutes"]
    verdict = ("both throttle nothing: no reduction to measure" if reduction is None else
               f"predictive throttles {reduction:.1%} fewer requests than the best static / daily-peak limit of "
               f"equal or lower capacity ratio ({best['policy']}), {pred['overload_minutes']:,} vs "
               f"{best['overload_minutes']:,} minutes over capacity: target {'met' if ok else 'NOT met'}")
    lines += ["", f"**{verdict}**", ""]
    return lines, {"label": label, "seconds": secs, "steps": steps, "reduction": reduction, "ok": ok}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", type=Path, default=None, help="scratch directory (default: a temporary one)")
    args = ap.parse_args(argv)
    settings = Settings()
    md = [header("Replay: throttle policies on recorded traffic", "python -m bench.bench_replay"), "",
          f"Settings: defaults (headroom {settings.decide_headroom}, band {settings.decide_band} %, floor: peak of the "
          f"last {settings.decide_floor_lookback_hours:g} h x {settings.decide_floor_margin}, at most x"
          f"{settings.decide_max_step_factor:g} per window); hourly decisions; the predictive policy re-forecasts at "
          "every decision from the data before it (decide/quickcast.py: daily or weekly profile, level-adjusted, "
          "conformal band). Baseline measured in the same run: the static and daily-peak limits as an operator "
          "sets them from the same history, and scaled to the predictive policy's capacity ratio.", ""]
    summary = []
    with scratch(args.work, "bench-replay-") as work:
        t0 = time.perf_counter()
        db = load(work)
        md.append(f"Loading the series (counts) took {time.perf_counter() - t0:.1f} s.\n")
        with open_store(db, settings) as con:
            for case in CASES:
                lines, s = run_case(con, settings, *case)
                md += lines
                summary.append(s)
    md.append("| series | steps | replay s | reduction vs best equal-capacity limit | target met |")
    md.append("| --- | ---: | ---: | ---: | --- |")
    for s in summary:
        red = "-" if s["reduction"] is None else f"{s['reduction']:.1%}"
        md.append(f"| {s['label']} | {s['steps']:,} | {s['seconds']:.2f} | {red} | {'yes' if s['ok'] else 'no'} |")
    md += ["", "### Trade-off on the ELB series (predictive settings varied, static scaled to the same capacity)", "",
           "| band | headroom | predictive throttled | capacity ratio | static at that ratio throttled | reduction |",
           "| --- | ---: | ---: | ---: | ---: | ---: |"]
    with scratch(args.work, "bench-replay-") as work:
        db = load(work)
        with open_store(db, settings) as con:
            tr = load_traffic(con, "api:elb", pd.Timestamp("2014-04-17"), None, history_days=7)
        for band, head in (("95", 1.2), ("95", 1.0), ("80", 1.2), ("80", 1.0)):
            s = settings.model_copy(update={"decide_band": band, "decide_headroom": head})
            lim: dict = {}
            rows = {p["policy"]: p for p in replay(tr, s, ["static", "predictive"], limits=lim)["policies"]}
            k = rows["predictive"]["capacity_ratio"] / rows["static"]["capacity_ratio"]
            st = score("static", tr, lim["static"] * k, s)
            red = "-" if st["throttled"] == 0 else f"{1 - rows['predictive']['throttled'] / st['throttled']:.1%}"
            md.append(f"| {band} % | {head} | {fmt(rows['predictive']['throttled'])} | "
                      f"{rows['predictive']['capacity_ratio']:.2f} | {fmt(st['throttled'])} | {red} |")
    write_report("replay.md", "\n".join(md) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
