"""The seeded sample-traffic generator: model properties, writers against our parsers, committed samples."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pytest
from typer.testing import CliRunner

from forecaster.samples import default_catalog, default_events, error_episodes, events_frame, generate, generate_counts
from forecaster.samples.catalog import LAUNCH_AT
from forecaster.samples.events import events_csv, read_events_csv
from forecaster.samples.writers import all_writers
from samples.helpers import parse_file, readme_commands

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples"
NO_REGION = {"apigw_rest_clf"}   # a format whose API has several regions but whose lines cannot say which
LOG_FORMATS = sorted(n for n, w in all_writers().items() if not w.aggregated)


@pytest.fixture(scope="module")
def hourly() -> pd.DataFrame:
    """Six weeks hourly around Black Friday 2026 (the committed counts_hourly window)."""
    return generate_counts("2026-10-26", "2026-12-07", "1h", seed=11)


@pytest.fixture(scope="module")
def sample_dir(tmp_path_factory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("samples")
    report = generate(out, start="2026-11-26", days=2, step="5min", seed=3, lines=400)
    return out, report


def _series(df: pd.DataFrame, api: str, route: str, region: str) -> pd.Series:
    g = df[(df.api == api) & (df.route == route) & (df.region == region)]
    return g.set_index("ts")["requests"].astype(float)


# ---- the traffic model ---------------------------------------------------------------------

def test_counts_columns_and_one_row_per_series_per_step(hourly):
    assert list(hourly.columns) == ["ts", "api", "api_type", "stage", "route", "region", "requests", "status_4xx",
                                    "status_5xx", "bytes_out"]
    n_series = sum(len(a.routes) * len(a.regions) for a in default_catalog())
    assert len(hourly) == 42 * 24 * n_series
    assert hourly.groupby("ts").size().eq(n_series).all()
    assert (hourly.status_4xx + hourly.status_5xx <= hourly.requests).all()
    assert (hourly.bytes_out >= 0).all() and (hourly.requests >= 0).all()


def test_deterministic_under_a_seed():
    a = generate_counts("2026-11-01", "2026-11-04", "15min", seed=5)
    b = generate_counts("2026-11-01", "2026-11-04", "15min", seed=5)
    c = generate_counts("2026-11-01", "2026-11-04", "15min", seed=6)
    pd.testing.assert_frame_equal(a, b)
    assert not a["requests"].equals(c["requests"])


def test_daily_and_weekly_seasonality(hourly):
    y = _series(hourly, "shop", "GET /products", "us-east-1")["2026-10-26":"2026-11-15"].to_numpy()
    y = y - y.mean()

    def acf(lag: int) -> float:
        return float(np.dot(y[:-lag], y[lag:]) / np.dot(y, y))

    assert acf(24) > 0.6, acf(24)
    assert acf(24) > acf(12) + 0.8, (acf(24), acf(12))
    # Time-zone aware (Mon-Wed, no flash sale): the eu-west-1 daily peak is hours earlier in UTC than the us-east-1 one.
    peak = {r: _series(hourly, "shop", "GET /products", r)["2026-11-02":"2026-11-04"].groupby(lambda t: t.hour).mean()
            .idxmax() for r in ("us-east-1", "eu-west-1")}
    assert (peak["us-east-1"] - peak["eu-west-1"]) % 24 >= 3, peak
    # Business traffic dips at weekends; consumer traffic does not.
    pay = _series(hourly, "payments", "GET /v1/charges/{id}", "us-east-1")["2026-11-02":"2026-11-15"]
    assert pay[pay.index.day_of_week >= 5].mean() < 0.6 * pay[pay.index.day_of_week < 5].mean()


def test_events_visible_as_uplift(hourly):
    s = _series(hourly, "shop", "GET /products", "us-east-1")
    bf = s["2026-11-27 10:00":"2026-11-28 02:00"].sum()
    week_before = s["2026-11-20 10:00":"2026-11-21 02:00"].sum()
    assert 3.5 < bf / week_before < 7, bf / week_before
    # The weekly flash sale (Thursdays 18:00-20:00 UTC) against the same hours on Wednesdays.
    thu = s[(s.index.day_of_week == 3) & s.index.hour.isin([18, 19])].sum()
    wed = s[(s.index.day_of_week == 2) & s.index.hour.isin([18, 19])].sum()
    assert thu > 1.8 * wed, (thu, wed)
    # The launch: POST /preorders does not exist before it, product pages triple for hours.
    pre = _series(hourly, "shop", "POST /preorders", "us-east-1")
    launch = pd.Timestamp(LAUNCH_AT).tz_localize(None)
    assert pre[:launch - pd.Timedelta("1h")].sum() == 0 and pre[launch:].sum() > 0
    pages = _series(hourly, "shop", "GET /products/{id}", "eu-west-1")
    during = pages[launch:launch + pd.Timedelta("3h")].sum()
    before = pages[launch - pd.Timedelta("7D"):launch - pd.Timedelta("7D") + pd.Timedelta("3h")].sum()
    assert during > 2.2 * before, (during, before)
    # Thanksgiving dips us-east-1 only.
    web = _series(hourly, "web", "GET /blog/{id}", "us-east-1")
    assert web["2026-11-26 10:00":"2026-11-27 02:00"].sum() < 0.75 * web["2026-11-19 10:00":"2026-11-20 02:00"].sum()


def test_error_episodes_raise_error_shares(hourly):
    eps = error_episodes("2026-10-26", "2026-12-07", seed=11)
    assert len(eps) > 10 and set(eps.kind) <= {"4xx", "5xx"}
    e = eps[(eps.kind == "5xx") & (eps.api == "shop")].sort_values("extra_share").iloc[-1]
    g = hourly[(hourly.api == "shop") & (hourly.region == e.region)]
    inside = g[(g.ts >= pd.Timestamp(e.start).floor("h")) & (g.ts <= pd.Timestamp(e.end))]
    share_in = inside.status_5xx.sum() / inside.requests.sum()
    share_all = g.status_5xx.sum() / g.requests.sum()
    assert share_in > 2 * share_all, (share_in, share_all)


def test_events_file_round_trip_and_calendar_loader(tmp_path):
    events = default_events("2026-10-26", "2026-12-07")
    names = {e.name for e in events}
    assert {"Black Friday", "Thanksgiving", "Product launch", "Flash sale"} <= names
    assert sum(e.name == "Flash sale" for e in events) == 6 and all(e.recurring for e in events if e.name == "Flash sale")
    frame = events_frame(events)
    assert frame.equals(events_frame())   # the default window is the committed counts_hourly window
    assert {"name", "start", "end", "routes", "expected_uplift", "recurring"} <= set(frame.columns)
    p = tmp_path / "events.csv"
    p.write_text(events_csv(events))
    assert read_events_csv(str(p), "2026-12-07") == events
    from forecaster.forecast.events import load_events   # the forecasting side reads the same file

    loaded = load_events(p)
    assert [e.name for e in loaded] == ["Flash sale", "Product launch", "Thanksgiving", "Black Friday"]
    assert next(e for e in loaded if e.name == "Flash sale").recurring == "weekly"


# ---- writers -------------------------------------------------------------------------------

def test_every_file_written_and_counts_equal_lines(sample_dir):
    out, report = sample_dir
    files = {f.format: f for f in report.files}
    assert set(LOG_FORMATS) | {"counts", "events_csv", "events_yaml"} <= set(files)
    counts = pd.read_csv(out / "counts.csv")
    assert list(counts.columns) == ["timestamp", "api", "api_type", "stage", "route", "region", "requests",
                                    "bytes_out"]
    catalog = default_catalog()
    for fmt in LOG_FORMATS:
        apis = [a.name for a in catalog if fmt in a.formats]
        lines = (out / all_writers()[fmt].file_name).read_bytes().count(b"\n")
        assert lines == files[fmt].lines == counts[counts.api.isin(apis)].requests.sum(), fmt
        assert 300 < lines < 500, (fmt, lines)      # --lines 400 targets ~400 per API


def test_rest_json_lines_per_bucket_equal_counts(sample_dir):
    """Without any parser of ours: the JSON's own fields bucketed per 5 minutes equal counts.csv."""
    out, _ = sample_dir
    rows = [orjson.loads(x) for x in (out / "apigw_rest_json.log").read_bytes().splitlines()]
    assert all(isinstance(v, str) for r in rows[:50] for v in r.values())   # AWS writes strings
    df = pd.DataFrame({
        "timestamp": pd.to_datetime([int(r["requestTimeEpoch"]) for r in rows], unit="ms").floor("5min"),
        "route": [f'{r["httpMethod"]} {r["resourcePath"]}' for r in rows],
        "region": [r["region"] for r in rows],
        "bytes": [int(r["responseLength"]) for r in rows],
    })
    assert df.timestamp.is_monotonic_increasing
    got = df.groupby(["timestamp", "route", "region"]).agg(requests=("bytes", "size"), bytes_out=("bytes", "sum"))
    counts = pd.read_csv(out / "counts.csv")
    counts = counts[counts.api == "shop"]
    counts["timestamp"] = pd.to_datetime(counts.timestamp).dt.tz_localize(None)
    want = counts.groupby(["timestamp", "route", "region"])[["requests", "bytes_out"]].sum()
    pd.testing.assert_frame_equal(got.sort_index(), want.sort_index(), check_dtype=False)


@pytest.mark.parametrize("fmt", LOG_FORMATS + ["counts"])
def test_lines_parse_with_our_parser(sample_dir, fmt):
    from forecaster.ingest.formats import all_formats

    if fmt not in all_formats():
        pytest.skip(f"ingest format {fmt!r} not registered yet")
    out, _ = sample_dir
    parsed = parse_file(out / all_writers()[fmt].file_name, fmt)
    bad = parsed[parsed.reason.notna()]
    assert bad.empty, f"{fmt}: {len(bad)} rejected, e.g. {bad.reason.iloc[0]!r} for {bad.line.iloc[0][:300]!r}"
    counts = pd.read_csv(out / "counts.csv")
    counts["timestamp"] = pd.to_datetime(counts.timestamp).dt.tz_localize(None)
    apis = [a.name for a in default_catalog() if fmt in a.formats] or sorted(counts.api.unique())
    want = counts[counts.api.isin(apis)].groupby(["timestamp", "route", "region"])[["requests", "bytes_out"]].sum()
    if fmt in NO_REGION:   # the log cannot say the region: ingest gives every line the default region
        want = want.groupby(level=["timestamp", "route"]).sum()
        want["region"] = "us-east-1"
        want = want.set_index("region", append=True)
    ts = pd.to_datetime(parsed.ts)
    if fmt == "alb":   # ALB 'time' is when the response left: received = time - the processing times
        ts = ts - pd.to_timedelta(parsed.latency_ms, unit="ms")
    parsed["timestamp"] = ts.dt.floor("5min")
    parsed["weighted_bytes"] = parsed.bytes_out
    got = parsed.groupby(["timestamp", "route", "region"]).agg(requests=("requests", "sum"),
                                                                bytes_out=("weighted_bytes", "sum"))
    pd.testing.assert_frame_equal(got.sort_index(), want.sort_index(), check_dtype=False)
    if fmt != "counts":
        assert parsed.request_id.is_unique, f"{fmt}: request ids must be unique (the dedupe key)"
        assert parsed.status.between(100, 599).all()


@pytest.mark.parametrize("fmt", LOG_FORMATS + ["counts"])
def test_format_detection_picks_the_right_parser(sample_dir, fmt):
    from forecaster.ingest.formats import all_formats

    if fmt not in all_formats():
        pytest.skip(f"ingest format {fmt!r} not registered yet")
    out, _ = sample_dir
    lines = (out / all_writers()[fmt].file_name).read_text().splitlines()[:50]
    scores = {n: f.detect(lines) for n, f in all_formats().items()}
    assert max(scores, key=scores.get) == fmt, scores


def test_generate_is_byte_for_byte_deterministic_and_gzips(tmp_path):
    kw = dict(formats="apigw_http,kong,counts", start="2026-11-20", days=1, seed=9, lines=200)
    generate(tmp_path / "a", **kw)
    generate(tmp_path / "b", **kw)
    generate(tmp_path / "z", gz=True, **kw)
    for p in sorted((tmp_path / "a").iterdir()):
        assert p.read_bytes() == (tmp_path / "b" / p.name).read_bytes(), p.name
        if p.suffix in (".log",) or p.name == "counts.csv":
            assert gzip.decompress((tmp_path / "z" / (p.name + ".gz")).read_bytes()) == p.read_bytes()


def test_cli_generate_and_list(tmp_path):
    from forecaster.cli import app

    runner = CliRunner()
    res = runner.invoke(app, ["samples", "list", "--json"])
    assert res.exit_code == 0, res.output
    assert {r["format"] for r in json.loads(res.output)} == set(all_writers())
    res = runner.invoke(app, ["samples", "generate", "--out", str(tmp_path), "--format", "envoy", "--lines", "50",
                              "--days", "1", "--name", "envoy=mesh.log", "--no-events", "--json"])
    assert res.exit_code == 0, res.output
    files = json.loads(res.output)["files"]
    assert [Path(f["path"]).name for f in files] == ["mesh.log"] and sorted(p.name for p in tmp_path.iterdir()) == ["mesh.log"]
    res = runner.invoke(app, ["samples", "generate", "--out", str(tmp_path), "--format", "nginx"])
    assert res.exit_code != 0 and "known: alb" in str(res.exception)


@pytest.mark.slow
def test_rest_json_generation_speed(tmp_path):
    """Vectorised writing: 300k REST JSON lines well above 50k lines/s even on a busy 2-core box."""
    report = generate(tmp_path, formats="apigw_rest_json", lines=300_000, seed=1, write_events=False)
    f = report.files[0]
    assert 290_000 < f.lines < 310_000 and 380 < f.bytes / f.lines < 480
    assert f.lines / f.seconds > 50_000, f"{f.lines / f.seconds:,.0f} lines/s"


# ---- committed samples ---------------------------------------------------------------------

def test_committed_samples_are_small_and_reproducible(tmp_path):
    readme = SAMPLES / "README.md"
    if not readme.exists():
        pytest.skip("data/samples/README.md not written yet")
    from forecaster.cli import app

    commands = readme_commands(readme)
    assert commands, "README.md documents no 'forecaster samples generate' command"
    for args in commands:
        args = [str(tmp_path) if a == "data/samples" else a for a in args]
        res = CliRunner().invoke(app, args)
        assert res.exit_code == 0, res.output
    made = sorted(p.name for p in tmp_path.iterdir())
    committed = sorted(p.name for p in SAMPLES.iterdir() if p.name != "README.md")
    assert made == committed
    for name in made:
        assert (tmp_path / name).read_bytes() == (SAMPLES / name).read_bytes(), f"{name} differs from the committed file"
    assert (SAMPLES / "counts_hourly.csv").stat().st_size < 2.3 * 2**20
    small = sum(p.stat().st_size for p in SAMPLES.iterdir() if p.name not in ("counts_hourly.csv", "README.md"))
    assert small < 600 * 1024, small


# ---- end to end through the real loader ----------------------------------------------------

COHERENT = sorted(set(LOG_FORMATS) - {"apigw_rest_clf", "clf"})   # one file per API: no request twice


@pytest.mark.slow
def test_ingest_one_file_per_api_matches_counts(sample_dir, tmp_path):
    """Auto-detected ingest of the log files (one per API) into a real DuckDB file: the per-minute
    rollups add up, per route and region, to the generator's counts.csv."""
    from forecaster.config import Settings
    from forecaster.ingest import ingest
    from forecaster.store import open_store
    from forecaster.store.db import run

    out, _ = sample_dir
    settings = Settings(db=tmp_path / "s.duckdb")
    files = [str(out / all_writers()[f].file_name) for f in COHERENT]
    with open_store(settings.db, settings) as con:
        report = ingest(con, files, settings)
        assert not report.failed and report.rows_rejected == 0, report.to_dict()
        assert {s.format for s in report.by_source} == set(COHERENT)
        rows = run(con, "SELECT route, region, sum(requests), sum(bytes_out) FROM traffic_1m GROUP BY ALL")
    got = pd.DataFrame(rows, columns=["route", "region", "requests", "bytes_out"])
    want = pd.read_csv(out / "counts.csv").groupby(["route", "region"])[["requests", "bytes_out"]].sum()
    pd.testing.assert_frame_equal(got.groupby(["route", "region"]).sum().sort_index(), want.sort_index(),
                                  check_dtype=False)
