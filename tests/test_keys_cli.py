"""``forecaster keys`` and ``forecaster run`` as a user types them."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def _cli(*args):
    r = subprocess.run([sys.executable, "-m", "forecaster", *args], capture_output=True, text=True, timeout=300,
                       env={**os.environ, "COLUMNS": "200"})
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout


def test_keys_create_list_revoke(tmp_path):
    db = str(tmp_path / "k.duckdb")
    made = json.loads(_cli("keys", "create", "--role", "operator", "--name", "ops", "--db", db, "--json"))
    assert set(made) == {"name", "role", "key"} and made["role"] == "operator" and made["key"].startswith("fk_")
    listed = _cli("keys", "list", "--db", db, "--json")
    assert made["key"] not in listed and json.loads(listed)["keys"][0]["name"] == "ops"
    assert json.loads(_cli("keys", "revoke", "ops", "--db", db, "--json"))["revoked"][0]["role"] == "operator"
    assert json.loads(_cli("keys", "list", "--db", db, "--json"))["keys"] == []
    assert _cli("keys", "list", "--db", db).startswith("no live API key yet")
    human = _cli("keys", "list", "--db", db, "--all").splitlines()     # whole times, not "2026-12-03T18:43…"
    row = next(x for x in human if " ops " in x)
    assert "…" not in row and len(row.split()) == 7 and row.split()[2] == "operator", row
    missing = tmp_path / "typo.duckdb"
    for cmd in (["list"], ["revoke", "ops"]):   # read or change existing keys: a typo'd --db makes no new store
        r = subprocess.run([sys.executable, "-m", "forecaster", "keys", *cmd, "--db", str(missing)], capture_output=True,
                           text=True, timeout=120)
        assert r.returncode == 2 and "no database at" in r.stderr and not missing.exists(), r.stderr
    bad = subprocess.run([sys.executable, "-m", "forecaster", "keys", "create", "--role", "root", "--name", "x",
                          "--db", db], capture_output=True, text=True, timeout=120)
    assert bad.returncode != 0 and "role must be one of" in bad.stderr


def test_run_once_in_the_foreground(tmp_path):
    from pathlib import Path
    samples = Path(__file__).resolve().parents[1] / "data" / "samples"
    db = str(tmp_path / "r.duckdb")
    out = json.loads(_cli("run", "--db", db, "--steps", "ingest", "--source", str(samples / "kong.log"), "--json"))
    assert out["status"] == "ok" and out["steps"][0]["step"] == "ingest" and out["steps"][0]["counts"]["rows_loaded"] > 0
