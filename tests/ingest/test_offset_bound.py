"""The UTC-offset bound's string fast path never accepts an offset the exact (regex) test rejects."""

from __future__ import annotations

from forecaster.ingest.normalize import _OFFSET, _OFFSET_SURELY_SANE, MAX_OFFSET_MINUTES
from forecaster.store.db import connect, run


def test_fast_path_agrees_with_the_regexes_on_every_offset():
    stamps = ["10/Oct/2000:13:55:36", "2000-10-10T13:55:36Z", "2000-10-10T13:55:36", "2000-10-10T13:55:36.123",
              "1795392001581", "x:y", ""]
    for sign in "+-":
        for h in range(100):
            for m in range(100):
                stamps.append(f"10/Oct/2000:13:55:36 {sign}{h:02d}{m:02d}")
                stamps.append(f"2000-10-10T13:55:36{sign}{h:02d}:{m:02d}")
    stamps += [s + t for s in ("10/Oct/2000:13:55:36 +", "2000-10-10T13:55:36-") for t in ("0:00", "0a00", "00:0", "1:359", "+1359")]
    con = connect(":memory:")
    run(con, "CREATE TEMP TABLE ts_cases (ts VARCHAR)")
    run(con, "INSERT INTO ts_cases (ts) SELECT unnest(?::VARCHAR[])", [stamps])
    fast, exact = _OFFSET_SURELY_SANE.format(ts="ts"), f"coalesce({_OFFSET.format(ts='ts')}, 0) <= {MAX_OFFSET_MINUTES}"
    wrong = con.execute(f"SELECT ts FROM ts_cases WHERE {fast} AND NOT ({exact})").fetchall()
    assert wrong == []
    # and it does its job: the usual offsets never reach the regexes
    slow = con.execute(f"SELECT count(*) FROM ts_cases WHERE ts LIKE '% +0000' AND NOT {fast}").fetchone()[0]
    assert slow == 0
    con.close()
