"""What a person sees from `forecaster ingest`: 80 columns, paths as typed, the failures first, a
bounded table however many sources (the rest counted)."""

from __future__ import annotations

import gzip

from typer.testing import CliRunner

from forecaster.cli import app

LINE = '127.0.0.1 - - [03/Dec/2026:10:{m:02d}:00 +0000] "GET /a/{i} HTTP/1.1" 200 10\n'


def test_the_ingest_table_fits_80_columns_and_shows_failures_first(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    logs = tmp_path / "logs"
    logs.mkdir()
    for k in range(30):
        (logs / f"access-{k:02d}.log").write_text("".join(LINE.format(m=i % 60, i=i) for i in range(k * 5, k * 5 + 5)))
    (logs / "zz-broken.log.gz").write_bytes(gzip.compress(b"x" * 2000)[:15])   # cut inside its header
    res = CliRunner().invoke(app, ["ingest", "logs", "--db", str(tmp_path / "o.duckdb")], env={"COLUMNS": "80"})
    lines = res.stdout.splitlines()
    assert res.exit_code == 1, res.output           # one source failed
    notes = [x for x in lines if x.startswith("failed: ")]   # whole, not folded: a path to copy
    assert len(notes) == 1 and notes[0].count("zz-broken.log.gz") == 1 and "stream damaged" in notes[0]
    assert max(len(x) for x in lines if x not in notes) <= 80, "\n".join(x for x in lines if len(x) > 80)
    table = [x for x in lines if x.lstrip().startswith("logs/")]
    assert " failed " in table[0] and table[0].lstrip().startswith("logs/zz")   # failures first, path as typed
    assert len(table) == 25 and "... and 6 more source(s)" in res.stdout
    assert "31 source(s): 150 rows loaded" in res.stdout


def test_a_held_unfinished_last_line_is_said_under_the_table(tmp_path, monkeypatch):
    """99 rows from a 100-line file must not leave a person guessing: the held line is named."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "live.log").write_text("".join(LINE.format(m=i, i=i) for i in range(3)) + LINE.format(m=3, i=3).rstrip("\n"))
    res = CliRunner().invoke(app, ["ingest", "live.log", "--db", str(tmp_path / "o.duckdb")], env={"COLUMNS": "80"})
    assert res.exit_code == 0, res.output
    said = [x for x in res.stdout.splitlines() if x.startswith("loaded: live.log: ")]
    assert len(said) == 1 and "unfinished last line (" in said[0] and "left for the next load" in said[0], res.stdout
    assert "1 source(s): 3 rows loaded" in res.stdout


def test_sources_list_at_80_columns_keeps_every_id_path_and_number(tmp_path, monkeypatch):
    """Nothing cut: ids, the paths (folded; their ends tell files apart) and the byte counts."""
    monkeypatch.chdir(tmp_path)
    logs = tmp_path / "logs" / "gateway-production-eu-west-1"
    logs.mkdir(parents=True)
    for k in range(11):
        (logs / f"access-2026-12-{k + 1:02d}.log").write_text("".join(LINE.format(m=i, i=i) for i in range(k + 1)))
    db = str(tmp_path / "o.duckdb")
    assert CliRunner().invoke(app, ["ingest", "logs", "--db", db]).exit_code == 0
    res = CliRunner().invoke(app, ["sources", "list", "--db", db], env={"COLUMNS": "80"})
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert max(len(x) for x in lines) <= 80 and "…" not in res.stdout, res.stdout
    head = next(x for x in lines if " source " in x and " format " in x)
    a, b = head.index("source"), head.index("format")
    column = "".join(x[a:b].strip() for x in lines[lines.index(head) + 2:])   # the source column, folds joined
    assert column == "".join(f"logs/gateway-production-eu-west-1/access-2026-12-{k + 1:02d}.log" for k in range(11))
    ids = [x.split()[0] for x in lines if x.strip()[:1].isdigit()]
    assert ids == [str(i) for i in range(1, 12)]


def test_a_failed_source_is_said_once_not_again_as_a_warning(tmp_path):
    """The summary names each failure with its reason; the loader's WARNING line (for a service's log)
    would say it a second time on the terminal."""
    import os
    import subprocess
    import sys

    (tmp_path / "noise.log").write_bytes(bytes(range(256)) * 200)
    (tmp_path / "ok.log").write_text(LINE.format(m=0, i=0))
    out = subprocess.run([sys.executable, "-m", "forecaster", "ingest", str(tmp_path), "--db", str(tmp_path / "o.duckdb")],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path, env={**os.environ, "COLUMNS": "80"})
    assert out.returncode == 1
    assert out.stdout.count("noise.log: cannot tell the log format") == 1, out.stdout
    assert "failed" not in out.stderr and "WARNING" not in out.stderr, out.stderr
