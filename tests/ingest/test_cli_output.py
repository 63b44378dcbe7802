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
