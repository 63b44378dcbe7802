"""The scheduler in the service process: a cycle end to end on the samples, over real HTTP, and a
failing job retried with backoff while the service keeps serving."""

from __future__ import annotations

import time

import httpx
import pytest

from service_helpers import sample_settings, serve

from forecaster.api import create_app
from forecaster.runtime import Runtime
from forecaster.store import api_keys
from pipelines import Job, ServiceScheduler, jobs_for, parse_duration


def _wait(pred, timeout=240.0, every=0.25):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(every)
    raise AssertionError("condition not met in time")


@pytest.mark.slow
def test_a_scheduled_cycle_end_to_end_on_the_samples(tmp_path):
    settings = sample_settings(tmp_path / "sched.duckdb", schedule_forecast_every="1h", schedule_ingest_every="5m")
    rt = Runtime(settings)
    key = api_keys.create(rt.cursor(), "ops", "reader")[1]
    sched = ServiceScheduler(rt)
    app = create_app(settings, runtime=rt, background=[sched])
    try:
        with serve(app) as url, httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30) as c:
            def forecast_cycle_done():
                items = c.get("/v1/runs", params={"kind": "pipeline", "limit": 50}).json()["items"]
                done = [r for r in items if r["params"]["trigger"] == "schedule:forecast" and r["status"] != "running"]
                return done[0] if done else None

            cycle = _wait(forecast_cycle_done)
            assert cycle["status"] == "ok", cycle
            steps = [s["step"] for s in cycle["summary"]["steps"]]
            assert steps == ["ingest", "forecast", "price", "carbon", "decide", "plan", "apply"]
            kinds = {r["kind"]: r["status"] for r in c.get("/v1/runs", params={"limit": 50}).json()["items"]}
            for k in ("step:ingest", "step:forecast", "step:price", "step:carbon", "step:decide", "step:plan",
                      "step:apply", "forecast", "costs", "decide"):
                assert kinds.get(k) == "ok", (k, kinds)
            assert c.get("/v1/spikes").json()["items"], "the cycle's forecast found the samples' spikes"
            assert c.get("/v1/recommendations").json()["count"] > 0, "the cycle's decisions are served"
            # the same job again with unchanged inputs: its steps are skipped, not redone
            sched.run_now("forecast")
            again = _wait(lambda: [r for r in c.get("/v1/runs", params={"kind": "pipeline", "limit": 50}).json()["items"]
                                   if r["params"]["trigger"] == "schedule:forecast" and r["run_id"] != cycle["run_id"]
                                   and r["status"] != "running"])
            assert [s["status"] for s in again[0]["summary"]["steps"]][1:5] == ["skipped"] * 4
        assert not [r for r in rt.cursor().execute("SELECT run_id FROM runs WHERE status = 'running'").fetchall()]
    finally:
        rt.close()


def test_a_failing_job_is_retried_with_backoff_and_never_kills_the_service(tmp_path):
    missing = str(tmp_path / "no-such-dir" / "*.log")
    settings = sample_settings(tmp_path / "fail.duckdb", schedule_ingest_sources=[missing], schedule_retries=2,
                               schedule_backoff_s=0.05)
    rt = Runtime(settings)
    sched = ServiceScheduler(rt, jobs=[Job("ingest", ("ingest",), 3600)])
    app = create_app(settings, runtime=rt, background=[sched])
    try:
        with serve(app) as url:
            _wait(lambda: len(sched.attempts) >= 3, timeout=30)
            time.sleep(0.3)
            assert [a["status"] for a in sched.attempts] == ["failed", "failed", "failed"]   # 1 + 2 retries, then it waits
            assert "no-such-dir" in sched.attempts[0]["error"]
            assert httpx.get(f"{url}/healthz").status_code == 200
        rows = rt.cursor().execute("SELECT kind, status, error FROM runs WHERE kind = 'step:ingest'").fetchall()
        assert len(rows) == 3 and all(r[1] == "failed" and "no-such-dir" in r[2] for r in rows)
    finally:
        rt.close()


def test_shutdown_lets_nothing_stay_running(tmp_path):
    """A job waiting out its backoff when the service stops: it stops, and no run is left running."""
    settings = sample_settings(tmp_path / "stop.duckdb", schedule_ingest_sources=[str(tmp_path / "none.log")],
                               schedule_retries=5, schedule_backoff_s=60, shutdown_timeout_s=5)
    rt = Runtime(settings)
    sched = ServiceScheduler(rt, jobs=[Job("ingest", ("ingest",), 3600)])
    app = create_app(settings, runtime=rt, background=[sched])
    try:
        t0 = time.monotonic()
        with serve(app):
            _wait(lambda: sched.attempts, timeout=30)
        assert time.monotonic() - t0 < 50          # the 60 s backoff was cut short by the stop signal
        assert rt.cursor().execute("SELECT count(*) FROM runs WHERE status = 'running'").fetchone()[0] == 0
    finally:
        rt.close()


def test_jobs_come_from_the_settings(tmp_path):
    s = sample_settings(tmp_path / "x.duckdb", schedule_ingest_every="90s", schedule_forecast_every="2h")
    jobs = {j.name: j for j in jobs_for(s)}
    assert jobs["ingest"].every_s == 90 and jobs["ingest"].steps == ("ingest",)
    assert jobs["forecast"].every_s == 7200 and jobs["forecast"].steps[:4] == ("ingest", "forecast", "price", "carbon")
    assert parse_duration("1d") == 86400 and parse_duration("15") == 15
    from forecaster.errors import ConfigError
    with pytest.raises(ConfigError, match="positive duration"):
        parse_duration("soon", "schedule_ingest_every")
