"""Load on the REST API: 64 gateways polling ``GET /v1/recommendations`` while a forecast run writes.

Loopback only and bounded: the server is ``forecaster serve`` on 127.0.0.1 (a subprocess), the
clients are asyncio keep-alive connections in two processes (32 each; a minimal HTTP/1.1
client, so the load generator takes little of the CPU it shares with the server), every phase lasts ``--seconds``.
Phases, in one run:

1. baseline, 304s: no forecast running, every poll sends ``If-None-Match`` with the current ETag;
2. baseline, full: no ``If-None-Match`` (the whole JSON every time);
3. and 4. the same two while the scheduler's forecast job runs (preset ``full``) on the samples plus
   generated routes (seeded copies of the samples' routes, ``--copies``; by default as many as make
   the run last about 1.5 times both phases at the rate the set-up measured), so that it writes for
   the whole of both phases; the report says how many seconds of each phase it was writing.

Each client polls, then sleeps ``--interval`` seconds (x 0.5..1.5, seeded, and a random start: not in
lock step). A gateway polls every few seconds: the default, 64 clients at one poll a second, is
already several times what such a fleet sends; ``--interval 0.1`` (640 polls/s offered) is a
stress run that saturates one uvicorn process on these 2 cores, where p99 measures the queue. Reported: requests/s, p50/p99 latency as the
client sees it (connection kept alive), and errors (any status other than 200/304, or a failure).

The store: the samples' pipeline (ingest, forecast with preset ``full``, price, carbon, decide) at
the demo's 'now', plus one throttle recommendation per route series sized from its forecast peak
when the decide step has not written any (so a full response is a realistic ~100 KB, not an empty
list); then the generated routes, so the served forecast has new traffic to forecast.

    .venv/bin/python -m bench.bench_service [--seconds 15] [--clients 64] [--interval 1.0] [--copies N]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import math
import multiprocessing as mp
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from ._util import REPO, header, python, scratch, write_report

SAMPLES = REPO / "data" / "samples"
AS_OF = "2026-11-25T05:00:00"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare(work: Path) -> tuple[Path, str, float]:
    """The samples' store with recommendations, an admin key's text, and the series per second of
    its forecast (preset full, the one the served job runs)."""
    from forecaster.config import Settings
    from forecaster.pipeline import run_pipeline
    from forecaster.store import api_keys, open_store

    db = work / "bench.duckdb"
    logs = [str(SAMPLES / n) for n in ("apigw_rest_json.log", "apigw_http.log", "apigw_websocket.log", "combined.log",
                                        "alb.log", "kong.log", "envoy.log", "counts_hourly.csv")]
    s = Settings(db=db, as_of=AS_OF, events_file=SAMPLES / "events.csv", forecast_preset="full")
    with open_store(db, s) as con:
        fc = run_pipeline(s, con=con, sources=logs).step("forecast")
        assert fc is not None and fc.status == "ok", fc
        rate = fc.counts["series"] / max(fc.seconds, 0.1)
        if con.execute("SELECT count(*) FROM recommendations").fetchone()[0] == 0:
            rows = con.execute("""
                SELECT series, max(yhat_hi_80) / 3600.0 FROM forecasts
                WHERE series LIKE 'route:%' AND run_id = (SELECT run_id FROM runs WHERE kind = 'forecast'
                                                         AND status = 'ok' ORDER BY started DESC LIMIT 1)
                GROUP BY series ORDER BY series""").fetchall()
            for i, (series, peak_rps) in enumerate(rows):
                api, stage, route, region = series[len("route:"):].split("|")
                rps = round(max(1.0, peak_rps * 3.0), 1)
                con.execute("INSERT INTO recommendations (id, run_id, kind, target, params, valid_from, valid_to, "
                            "rationale, expected_impact, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            [f"bench-{i}", "bench", "throttle", f"{api}|{stage}|{route}",
                             json.dumps({"api": api, "stage": stage, "route": route, "rate_limit_rps": rps,
                                         "burst_limit": int(rps * 2)}),
                             "2026-11-25T00:00:00", "2026-11-28T00:00:00",
                             f"forecast peak {peak_rps:.1f} rps (80% upper bound) x 3 for per-second peaks; "
                             f"admits the forecast traffic with room for a spike on {route} in {region}",
                             json.dumps({"requests_admitted_share": 0.999, "requests_shed": 0}), "proposed"])
        key = api_keys.create(con, "bench", "admin")[1]
    return db, key, rate


TRAFFIC_COLS = ("ts", "api", "stage", "route", "region", "api_type", "requests", "status_4xx", "status_5xx",
                "bytes_out", "latency_n", "latency_ms_sum", "latency_p50_ms", "latency_p95_ms", "latency_p99_ms",
                "integration_n", "integration_ms_sum", "billed_ms_sum")
COUNTS = ("requests", "status_4xx", "status_5xx", "bytes_out", "latency_n", "latency_ms_sum", "integration_n",
          "integration_ms_sum", "billed_ms_sum")


def add_routes(db: Path, copies: int | None, series: float = 0) -> tuple[int, int]:
    """``copies`` seeded copies of every route of the samples (``GET /x`` -> ``GET /x/b1`` ...; None: as
    many as make at least ``series`` new series): each minute's counts scaled by a factor per copy and
    a noise of +-10 % per minute (deterministic). The series the served forecast will fit; returns
    (copies, series added)."""
    from forecaster.config import Settings
    from forecaster.store import open_store

    def col(c: str) -> str:
        if c == "route":
            return "t.route || '/b' || k.k"
        if c in COUNTS:
            f = "(0.4 + 0.3 * (k.k % 5)) * (0.9 + (hash(t.ts, t.route, k.k) % 21) / 100.0)"
            return f"CAST(round(t.{c} * {f}) AS {'DOUBLE' if c.endswith('_sum') else 'BIGINT'})"
        return f"t.{c}"

    with open_store(db, Settings(db=db)) as con:
        before = con.execute("SELECT count(DISTINCT (api, stage, route, region)) FROM traffic_1m").fetchone()[0]
        copies = copies if copies is not None else max(1, math.ceil(series / before))
        con.execute(f"INSERT INTO traffic_1m ({', '.join(TRAFFIC_COLS)}) "
                    f"SELECT {', '.join(col(c) for c in TRAFFIC_COLS)} FROM traffic_1m t, range(1, {copies + 1}) k(k)")
        after = con.execute("SELECT count(DISTINCT (api, stage, route, region)) FROM traffic_1m").fetchone()[0]
    return copies, after - before


async def _get(reader, writer, request: bytes) -> tuple[int, bytes]:
    """One keep-alive GET on an open connection: status and ETag (a minimal HTTP/1.1 client, so the
    load generator spends little of the CPU it shares with the server)."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length, etag = 0, b""
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        k = k.lower()
        if k == b"content-length":
            length = int(v)
        elif k == b"etag":
            etag = v.strip()
    if length:
        await reader.readexactly(length)
    return status, etag


def _client_proc(port: int, key: str, clients: int, seconds: float, interval: float, conditional: bool, q,
                 seed: int = 0, start_at: float = 0.0) -> None:
    rng = random.Random(seed)

    def request(etag: bytes | None) -> bytes:
        return (b"GET /v1/recommendations HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + key.encode()
                + (b"\r\nIf-None-Match: " + etag if etag else b"") + b"\r\n\r\n")

    async def one(out: list, errors: list, stop: float) -> None:
        # connect when the phase starts: a connection left idle longer than the server's keep-alive
        # timeout (uvicorn: 5 s) while the other processes start is closed by the server
        await asyncio.sleep(max(0.0, start_at - time.time()) + rng.uniform(0, interval))  # together, not in lock step
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            _, etag = await _get(reader, writer, request(None))
            req = request(etag if conditional else None)
            while time.monotonic() < stop:
                t0 = time.perf_counter()
                try:
                    status, _ = await asyncio.wait_for(_get(reader, writer, req), 10)
                    if status in (200, 304):
                        out.append((time.perf_counter() - t0, status))
                    else:
                        errors.append(f"status {status}")
                except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, ValueError) as e:
                    errors.append(type(e).__name__)
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
                if interval:
                    await asyncio.sleep(interval * rng.uniform(0.5, 1.5))
        finally:
            writer.close()

    async def main() -> None:
        out: list = []
        errors: list = []
        stop = time.monotonic() + max(0.0, start_at - time.time()) + seconds
        await asyncio.gather(*(one(out, errors, stop) for _ in range(clients)))
        q.put((out, errors))

    asyncio.run(main())


def load(port: int, key: str, clients: int, seconds: float, interval: float, conditional: bool, procs: int = 2) -> dict:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    start_at = time.time() + 5.0       # every client process imported and connected: measure from here
    ps = [ctx.Process(target=_client_proc, args=(port, key, clients // procs, seconds, interval, conditional, q, i, start_at))
          for i in range(procs)]
    t0 = time.monotonic()
    for p in ps:
        p.start()
    results = [q.get(timeout=seconds + 120) for _ in ps]
    for p in ps:
        p.join(30)
    wall = time.monotonic() - t0
    lat = sorted(d for out, _ in results for d, _ in out)
    statuses = [s for out, _ in results for _, s in out]
    errors = [e for _, errs in results for e in errs]
    n = len(lat)
    pct = (lambda p: lat[min(n - 1, int(p * n))] * 1000) if n else (lambda p: float("nan"))
    return {"requests": n, "rps": n / seconds, "p50_ms": pct(0.50), "p99_ms": pct(0.99), "max_ms": lat[-1] * 1000 if n else 0,
            "errors": len(errors), "error_kinds": sorted(set(errors))[:5], "share_304": statuses.count(304) / max(n, 1),
            "wall_s": wall, "phase": (start_at, start_at + seconds), "load": os.getloadavg()[0]}


def _overlap(r: dict, still: bool | None) -> str:
    if still is None:
        return "-"
    lo, hi = r["phase"]
    return f"{r['overlap_s']:.0f} of {hi - lo:.0f} ({r['overlap_s'] / (hi - lo):.0%})"


class Server:
    def __init__(self, db: Path, work: Path, scheduler: bool):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cfg = work / f"serve-{'sched' if scheduler else 'api'}.toml"
        cfg.write_text(f'db = "{db}"\nas_of = "{AS_OF}"\nevents_file = "{SAMPLES / "events.csv"}"\n'
                       'forecast_preset = "full"\nschedule_forecast_every = "1h"\nschedule_ingest_every = "1h"\n'
                       'shutdown_timeout_s = 5\n')
        cmd = [python(), "-m", "forecaster", "serve", "--port", str(self.port), "--config", str(cfg),
               "--log-level", "warning", *([] if scheduler else ["--no-scheduler"])]
        self.log = open(work / f"serve-{self.port}.log", "w")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, cwd=REPO)
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RuntimeError(f"server did not start; see {self.log.name}")
            time.sleep(0.2)

    def last_forecast(self, key: str) -> dict | None:
        r = httpx.get(self.url + "/v1/runs", params={"kind": "step:forecast", "limit": 1},
                      headers={"Authorization": f"Bearer {key}"}, timeout=10).json()["items"]
        return r[0] if r else None

    def forecast_running(self, key: str) -> bool:
        r = self.last_forecast(key)
        return r is not None and r["status"] == "running"

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def _commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO, capture_output=True,
                               text=True, timeout=10).stdout.strip()
        return out.stdout.strip() + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=15.0, help="length of each phase")
    ap.add_argument("--clients", type=int, default=64)
    ap.add_argument("--interval", type=float, default=1.0, help="pause of each client between polls (s)")
    ap.add_argument("--copies", type=int, default=None,
                    help="generated copies of the samples' routes (default: enough for the forecast to outlast both phases)")
    ap.add_argument("--work", type=Path, default=None)
    a = ap.parse_args(argv)
    rows = []
    load0 = os.getloadavg()
    with scratch(a.work, "bench-service-") as work:
        db, key, rate = prepare(work)
        # the forecast must write through both phases (each: 5 s to connect, then the phase) and the
        # wait for it to start; at the set-up's rate, with half again for luck (the clients slow it down)
        copies, added = add_routes(db, a.copies, 1.5 * rate * (2 * (a.seconds + 5) + 10))
        srv = Server(db, work, scheduler=False)
        try:
            for cond in (True, False):
                rows.append(("no forecast running (baseline)", cond, load(srv.port, key, a.clients, a.seconds, a.interval, cond), None))
        finally:
            srv.stop()
        srv = Server(db, work, scheduler=True)
        try:
            deadline = time.monotonic() + 60
            while not srv.forecast_running(key):
                if time.monotonic() > deadline:
                    raise RuntimeError("the scheduled forecast did not start")
                time.sleep(0.2)
            for cond in (True, False):
                r = load(srv.port, key, a.clients, a.seconds, a.interval, cond)
                rows.append(("while the scheduled forecast runs", cond, r, srv.forecast_running(key)))
            run = srv.last_forecast(key)
        finally:
            srv.stop()
        # how many seconds of each phase the forecast was writing (the runs row's UTC times)
        began = dt.datetime.fromisoformat(run["started"]).replace(tzinfo=dt.timezone.utc).timestamp() if run else None
        ended = (dt.datetime.fromisoformat(run["finished"]).replace(tzinfo=dt.timezone.utc).timestamp()
                 if run and run.get("finished") else time.time())
        for phase, _cond, r, _still in rows:
            lo, hi = r["phase"]
            r["overlap_s"] = max(0.0, min(hi, ended) - max(lo, began)) if began is not None and "while" in phase else 0.0
    md = header("REST API under load: 64 pollers of /v1/recommendations while a forecast writes",
                f"python -m bench.bench_service --seconds {a.seconds:g} --clients {a.clients} --interval {a.interval:g}"
                + (f" --copies {a.copies}" if a.copies is not None else ""))
    md += f"- commit: {_commit()}\n"
    md += (f"\n{a.clients} clients (2 processes x {a.clients // 2}, asyncio, a minimal keep-alive HTTP/1.1 client) on the same 2 cores as "
           f"the server, each polling then sleeping {a.interval:g} s x 0.5..1.5 (seeded); {a.seconds:g} s per phase. Server: `forecaster serve` "
           f"(uvicorn, one process, the scheduler's forecast job with preset full in the second half, on the samples plus "
           f"{added} generated route series ({copies} copies of each route; the set-up forecast {rate:.1f} series/s)). Latency as the "
           "client sees it. Targets: p99 <= 20 ms for 304s, <= 50 ms for full responses. Load average "
           f"(1 min) at the start {load0[0]:.1f}, at the end {os.getloadavg()[0]:.1f} (other work on the machine "
           "competes for the same 2 cores).\n\n"
           "| phase | If-None-Match | requests | rps | p50 ms | p99 ms | max ms | 304 share | errors | seconds of it the forecast was writing | load (1 min) |\n"
           "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
    for phase, cond, r, still in rows:
        md += (f"| {phase} | {'yes' if cond else 'no'} | {r['requests']:,} | {r['rps']:,.0f} | {r['p50_ms']:.1f} | "
               f"{r['p99_ms']:.1f} | {r['max_ms']:.1f} | {r['share_304']:.0%} | {r['errors']} | "
               f"{_overlap(r, still)} | {r['load']:.1f} |\n")
    kinds = sorted({k for *_x, r, _s in rows for k in r["error_kinds"]})
    if kinds:
        md += f"\nErrors seen: {', '.join(kinds)}.\n"
    write_report("service.md", md)
    return 1 if any(r["errors"] for *_x, r, _s in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
