"""Spike detection ahead of known events: ``.venv/bin/python -m bench.bench_spikes``.

Traffic: ``forecaster.samples.traffic.generate_counts`` (30 route series, hourly, seeded), with its
default events (weekly flash sale 2.5x, product launch 3x, Black Friday 5x, holiday dips) written
to an events CSV that the forecast run reads as its calendar. For every upward event with at least
three weeks of history before it, the run forecasts 72 h from several as-of points before the
event (``--leads``, hours before its start), as the scheduler would.

- recall: share of (event, affected route series, as-of) cases where a spike overlapping the
  event was reported with lead_time_hours >= 24 (target >= 90%). Routes that do not exist yet
  at the as-of point (the launch's new ``POST /preorders``) cannot be forecast and are not counted.
- precision: share of reported spikes that overlap a real upward event on that series, +-1 h
  (target >= 80%); hour precision: share of the hours inside reported spikes that are event hours.

Route series only (aggregates feel an event diluted). Writes ``bench/out/spikes.md``.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import pandas as pd

from bench._util import OUT, header
from forecaster.config import Settings
from forecaster.forecast.events import load_events
from forecaster.forecast.run import run_forecast
from forecaster.store.db import connect, run

START, END = pd.Timestamp("2026-10-20"), pd.Timestamp("2026-12-06")
MIN_HISTORY = pd.Timedelta(days=21)
TOL = pd.Timedelta(hours=1)
H1 = pd.Timedelta(hours=1)


def build_db(path: Path, seed: int) -> tuple[Path, pd.DataFrame]:
    from forecaster.samples.events import default_events, events_csv
    from forecaster.samples.traffic import generate_counts

    counts = generate_counts(START, END, "1h", seed=seed)
    con = connect(path)
    con.register("_c", counts)
    run(con, """INSERT INTO traffic_1m (ts, api, stage, route, region, api_type, requests, status_4xx, status_5xx, bytes_out, latency_n, latency_ms_sum, latency_p50_ms, latency_p95_ms, latency_p99_ms, integration_n, integration_ms_sum, billed_ms_sum) SELECT ts, api, stage, route, region, api_type, requests, status_4xx,
                status_5xx, bytes_out, 0, 0, NULL, NULL, NULL, 0, 0, 0 FROM _c WHERE requests > 0""")
    con.close()
    csv = path.with_suffix(".events.csv")
    csv.write_text(events_csv(default_events(START, END)))
    return csv, counts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="auto", help="model of the runs (default auto: model selection, as forecaster forecast)")
    ap.add_argument("--leads", default="26,44,62", help="hours between as-of and event start")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default=None, help="report name (default spikes.md, real: spikes_real.md)")
    ap.add_argument("--cases", default="generated", choices=["generated", "real"],
                    help="generated: the sample traffic's events (default); real: NAB series, see bench/spikes_real.py")
    ap.add_argument("--every", type=int, default=1, help="real: days between as-of points")
    ap.add_argument("--only", help="real: substring filter on series names")
    ap.add_argument("--folds", type=int, default=None, help="real: backtest folds per run (default: the fast preset's)")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.cases == "real":
        _real(args)
        return
    args.out = args.out or "spikes.md"
    leads = [int(x) for x in args.leads.split(",")]
    tmp = Path(tempfile.mkdtemp())
    db = tmp / "bench.duckdb"
    csv, counts = build_db(db, args.seed)
    calendar = load_events(csv)
    upward = [e for e in calendar for s, _ in e.occurrences(START, END)
              if (e.expected_uplift or 1) > 1.2]
    occurrences = sorted({(e.name, s, en) for e in upward for s, en in e.occurrences(START + MIN_HISTORY, END - pd.Timedelta("3D"))},
                         key=lambda t: t[1])
    by_name = {e.name: e for e in calendar}
    actual = {f"route:{k[0]}|{k[1]}|{k[2]}|{k[3]}": g.set_index("ts").requests.astype(float)
              for k, g in counts.assign(ts=counts.ts.astype("datetime64[ns]")).groupby(["api", "stage", "route", "region"])}
    settings = Settings(db=db, events_file=csv, forecast_history_days=None, holiday_country="US")
    con = connect(db)
    cases, reported, t_total = [], [], 0.0
    for name, ev_start, ev_end in occurrences:
        for lead in leads:
            as_of = (ev_start - pd.Timedelta(hours=lead)).floor("1h")
            t0 = time.perf_counter()
            s = run_forecast(con, settings, model=args.model, as_of=as_of, routes="route:*", workers=args.workers,
                             horizon="72h", step="1h")
            t_total += time.perf_counter() - t0
            spikes = con.execute("SELECT * FROM spikes WHERE run_id = ?", [s.run_id]).df()
            ids = {r["series"] for r in s.per_series}
            ev = by_name[name]
            for sid in sorted(i for i in ids if ev.applies_to(i)):
                mine = spikes[(spikes.series == sid) & (spikes.start_ts < ev_end + TOL) & (spikes.end_ts > ev_start - TOL)]
                ahead = mine[mine.lead_time_hours >= 24]
                cases.append({"event": name, "start": ev_start, "as_of": as_of, "lead_h": lead, "series": sid,
                              "found": bool(len(ahead)), "ratio": float(mine.ratio.max()) if len(mine) else None,
                              "probability": float(ahead.probability.max()) if len(ahead) else None})
            for r in spikes.itertuples():
                real = any(e.applies_to(r.series) and any(s0 - TOL < r.end_ts and r.start_ts < s1 + TOL
                                                          for s0, s1 in e.occurrences(r.start_ts - pd.Timedelta("7D"), r.end_ts + pd.Timedelta("7D")))
                           for e in upward)
                hours = pd.date_range(r.start_ts, r.end_ts - pd.Timedelta("1h"), freq="1h")
                on = sum(any(e.applies_to(r.series) and any(s0 <= h < s1 for s0, s1 in e.occurrences(h - pd.Timedelta("7D"), h + H1))
                             for e in upward) for h in hours)
                seen = actual.get(r.series)
                window = seen[(seen.index >= r.start_ts - TOL) & (seen.index < r.end_ts + TOL)] if seen is not None else None
                reported.append({"run_as_of": as_of, "series": r.series, "start": r.start_ts, "end": r.end_ts,
                                 "hours": len(hours), "event_hours": int(on), "ratio": r.ratio,
                                 "probability": r.probability, "lead_h": r.lead_time_hours, "event": r.event,
                                 "threshold": r.threshold,
                                 "happened": bool(window is not None and (window > r.threshold).any()),
                                 "reason": r.reason, "real": real})
            print(f"{name} {ev_start} lead {lead}h: {s.series} series, {s.spikes} spikes, {s.seconds:.1f}s", flush=True)
    con.close()
    cases_df, rep = pd.DataFrame(cases), pd.DataFrame(reported)
    recall = cases_df.found.mean() if len(cases_df) else float("nan")
    precision = rep.real.mean() if len(rep) else float("nan")
    hour_precision = rep.event_hours.sum() / rep.hours.sum() if len(rep) and rep.hours.sum() else float("nan")
    lines = [header("Spike detection ahead of known events", f".venv/bin/python -m bench.bench_spikes --model {args.model} "
                    f"--leads {args.leads} --seed {args.seed}"),
             f"- traffic: generate_counts({START.date()}..{END.date()}, 1h, seed={args.seed}), "
             f"{counts.groupby(['api', 'route', 'region']).ngroups} route series; model `{args.model}`; "
             f"{len(occurrences)} upward event occurrences x {len(leads)} as-of points; runs took {t_total:.0f}s\n",
             f"**recall (event spikes found >= 24 h ahead): {recall:.1%}** of {len(cases_df)} (event, series, as-of) cases "
             f"(target >= 90%)\n",
             f"**precision (reported spikes on a real event): {precision:.1%}** of {len(rep)} spikes (target >= 80%)\n",
             f"**hour precision (hours inside reported spikes that are event hours): {hour_precision:.1%}** of "
             f"{int(rep.hours.sum()) if len(rep) else 0} hours\n",
             "### recall per event and lead\n", _md(cases_df.groupby(["event", "lead_h"]).found.agg(["mean", "count"]).reset_index()),
             "\n### stated probability vs share of spikes that happened (actual above the threshold, +-1 h) and real\n",
             reliability(rep) if len(rep) else "none\n",
             "\n### spikes not on an event (up to 20)\n", _md(rep[~rep.real].head(20)) if len(rep) else "none\n",
             "\n### missed cases (up to 20)\n", _md(cases_df[~cases_df.found].head(20)) if len(cases_df) else "none\n"]
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / args.out).write_text("\n".join(lines))
    stem = Path(args.out).stem   # every case and spike, to study thresholds without rerunning
    cases_df.to_csv(OUT / f"{stem}_cases.csv", index=False)
    rep.to_csv(OUT / f"{stem}_reported.csv", index=False)
    print(f"recall {recall:.1%} ({len(cases_df)} cases), precision {precision:.1%} ({len(rep)} spikes), "
          f"hour precision {hour_precision:.1%}; "
          f"wrote {OUT / args.out}")


def _real(args) -> None:
    """The real-series benchmark (``bench/spikes_real.py``): report plus the case-by-case CSVs."""
    import warnings

    from bench.spikes_real import run as run_real

    warnings.filterwarnings("ignore")
    text, cases, reported, _ = run_real(args.every, args.model, args.only, args.folds)
    out = args.out or "spikes_real.md"
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / out).write_text(text)
    stem = Path(out).stem
    cases.to_csv(OUT / f"{stem}_cases.csv", index=False)
    reported.to_csv(OUT / f"{stem}_reported.csv", index=False)
    print(text)


def reliability(rep: pd.DataFrame) -> str:
    """Spikes binned by stated probability: how many, the share that happened (``happened``: the
    actual above the spike's threshold in its window), the share real, and the mean stated."""
    bins = pd.cut(rep.probability, [0, 0.2, 0.5, 0.8, 0.95, 1.0001], right=False)
    table = (rep.groupby(bins, observed=True)
             .agg(count=("probability", "size"), mean_stated=("probability", "mean"),
                  share_happened=("happened", "mean"), share_real=("real", "mean"))
             .reset_index().rename(columns={"probability": "stated probability"})
             .astype({"stated probability": str}))
    return _md(table)


def _md(frame: pd.DataFrame) -> str:
    if frame.empty:
        return "none\n"
    cols = list(frame.columns)
    rows = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in frame.itertuples(index=False):
        rows.append("| " + " | ".join(f"{v:.3g}" if isinstance(v, float) else str(v) for v in r) + " |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    main()
