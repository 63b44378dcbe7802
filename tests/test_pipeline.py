"""The pipeline: every step a runs row, idempotent, resumable; and a kill in the middle of a run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import duckdb
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from service_helpers import AS_OF, SAMPLE_LOGS, SAMPLES, sample_settings  # noqa: E402

from forecaster.errors import BadInput, Interrupted, UnknownName
from forecaster.pipeline import DEFAULT_STEPS, parse_steps, recover, run_pipeline
from forecaster.store import open_store, runs


def _runs(con, pipeline_id):
    return con.execute("SELECT kind, status, summary FROM runs WHERE (run_id = ? OR params->>'pipeline' = ?) AND kind IN ('pipeline') OR kind LIKE 'step:%' AND params->>'pipeline' = ? "
                       "ORDER BY started", [pipeline_id, pipeline_id, pipeline_id]).fetchall()


def test_steps_are_rows_idempotent_and_forced(tmp_path):
    s = sample_settings(tmp_path / "p.duckdb")
    with open_store(s.db, s) as con:
        first = run_pipeline(s, con=con)
        assert first.status == "ok" and [x.step for x in first.steps] == list(DEFAULT_STEPS)
        assert [x.status for x in first.steps] == ["ok"] * len(DEFAULT_STEPS)
        kinds = [(k, st) for k, st, _ in _runs(con, first.run_id)]
        assert kinds == [("pipeline", "ok")] + [(f"step:{s}", "ok") for s in DEFAULT_STEPS]
        assert first.step("decide").counts["recommendations"] > 0
        assert first.step("ingest").counts["rows_loaded"] > 0
        fc = first.step("forecast").counts["forecast_run_id"]
        assert runs.get(con, fc).status == "ok"

        second = run_pipeline(s, con=con)
        assert [x.status for x in second.steps] == ["ok"] + ["skipped"] * (len(DEFAULT_STEPS) - 1)
        assert second.step("ingest").counts["rows_loaded"] == 0
        assert second.step("forecast").counts["forecast_run_id"] == fc
        assert con.execute("SELECT count(*) FROM runs WHERE kind = 'forecast'").fetchone()[0] == 1

        third = run_pipeline(s, ["forecast"], con=con, force=True)
        assert third.step("forecast").status == "ok" and third.step("forecast").counts["forecast_run_id"] != fc

        # a stored event changes the forecast's inputs: the step runs again, and uses it
        from forecaster.store import events
        events.insert(con, "Staff party", AS_OF, AS_OF.replace(hour=9), ("route:shop|*",), (), 2.0)
        fourth = run_pipeline(s, ["forecast"], con=con)
        assert fourth.step("forecast").status == "ok"
        params = runs.get(con, fourth.step("forecast").counts["forecast_run_id"]).params
        assert Path(params["events"]).read_text().count("Staff party") == 1


def test_a_failed_step_is_recorded_and_later_steps_do_not_run(tmp_path):
    s = sample_settings(tmp_path / "f.duckdb")
    with open_store(s.db, s) as con:
        with pytest.raises(BadInput, match="no traffic"):
            run_pipeline(s, ["forecast", "price"], con=con)
        rows = con.execute("SELECT kind, status, error FROM runs ORDER BY started").fetchall()
        assert [(k, st) for k, st, _ in rows] == [("pipeline", "failed"), ("step:forecast", "failed"), ("forecast", "failed")]
        assert "ingest logs first" in rows[0][2]


def test_stop_between_steps_marks_the_run_interrupted(tmp_path):
    s = sample_settings(tmp_path / "s.duckdb", schedule_ingest_sources=[SAMPLE_LOGS[2]])
    stop = threading.Event()
    with open_store(s.db, s) as con:
        with pytest.raises(Interrupted):
            run_pipeline(s, con=con, stop=stop, progress=lambda sr: stop.set())
        rows = con.execute("SELECT kind, status FROM runs ORDER BY started").fetchall()
        assert rows == [("pipeline", "interrupted"), ("step:ingest", "ok")]


def test_step_names_are_checked():
    assert parse_steps("carbon,ingest") == ["ingest", "carbon"]
    with pytest.raises(UnknownName, match="known: "):
        parse_steps("ingest,train")


def _kill_mid_forecast(db: Path, cfg: Path) -> str:
    """Start `forecaster run`, SIGKILL it once its ingest step has finished (the forecast is running)."""
    cmd = [sys.executable, "-m", "forecaster", "run", "--db", str(db), "--config", str(cfg),
           *[a for p in SAMPLE_LOGS for a in ("--source", p)]]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                            env={**os.environ, "COLUMNS": "200"})
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if line.startswith("ingest"):
            os.kill(proc.pid, signal.SIGKILL)
            break
    proc.wait(60)
    assert proc.returncode == -signal.SIGKILL, "".join(seen)
    return "".join(seen)


@pytest.mark.slow
def test_kill_in_the_middle_leaves_the_store_consistent_and_the_next_run_carries_on(tmp_path):
    db = tmp_path / "k.duckdb"
    cfg = tmp_path / "k.toml"
    cfg.write_text(f'as_of = "{AS_OF.isoformat()}"\nevents_file = "{SAMPLES / "events.csv"}"\n'
                   'forecast_preset = "full"\n')
    _kill_mid_forecast(db, cfg)
    con = duckdb.connect(str(db), read_only=True)         # the file opens: the WAL replays or is discarded
    try:
        left = dict(con.execute("SELECT kind, status FROM runs").fetchall())
        assert left["pipeline"] == "running" and left["step:ingest"] == "ok"
        assert con.execute("SELECT count(*) FROM sources").fetchone()[0] == len(SAMPLE_LOGS)
        # nothing of the killed forecast is visible: its rows were never committed
        assert con.execute("SELECT count(*) FROM forecasts f LEFT JOIN runs r USING (run_id) "
                           "WHERE r.status IS DISTINCT FROM 'ok'").fetchone()[0] == 0
    finally:
        con.close()
    s = sample_settings(db, forecast_preset="fast")
    with open_store(db, s) as con:
        interrupted = recover(con)
        assert interrupted and all(runs.get(con, r).status == "interrupted" for r in interrupted)
        assert con.execute("SELECT count(*) FROM runs WHERE status = 'running'").fetchone()[0] == 0
        again = run_pipeline(s, con=con)
        assert again.status == "ok"
        assert again.step("ingest").counts["rows_loaded"] == 0                 # loaded before the kill, kept
        assert again.step("forecast").status == "ok"                            # the step that died runs again


def test_step_counts_read_as_a_person_reads_them():
    """`forecaster run` printed total_g_co2e 385.88118121296395 and total_usd 389.205221."""
    from forecaster.cli.run import _shown

    assert _shown("total_usd", 389.205221) == "$389.21"
    assert _shown("total_g_co2e", 385.88118121296395) == "386"
    assert _shown("total_g_co2e", 0.0123456) == "0.0123"
    assert _shown("recommendations", 3903) == "3,903"
    assert _shown("forecast_run_id", "fo-1") == "fo-1" and _shown("ok", True) == "True"
