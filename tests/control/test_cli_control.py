"""``forecaster plan | apply | rollback | actions`` as a user runs them: a config file, a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from forecaster.store import connect

from .conftest import insert_recs, rec


@pytest.mark.slow   # four fresh interpreters
def test_cli_plan_apply_actions_rollback(tmp_path, moto_endpoint, rest_stage):
    db = tmp_path / "cli.duckdb"
    con = connect(db)
    insert_recs(con, rec("c-stage", "throttle", "shop|prod",
                         {"api": "shop", "stage": "prod", "rate_limit_rps": 110.0, "burst_limit": 220}, hours=(-1, 10_000)))
    con.close()
    cfg = tmp_path / "forecaster.toml"
    cfg.write_text(f'db = "{db}"\n[aws]\nregion = "us-east-1"\nendpoint_url = "{moto_endpoint}"\nretry_base_s = 0.01\n'
                   f'[[targets]]\nkind = "apigw_rest_stage"\napi = "shop"\nrest_api_id = "{rest_stage}"\nstage = "prod"\n')
    env = {**os.environ, "FORECASTER_CONFIG_FILE": str(cfg)}

    def cli(*args, ok=True):
        out = subprocess.run([sys.executable, "-m", "forecaster.cli", *args], env=env, cwd=tmp_path,
                             capture_output=True, text=True, timeout=120)
        assert (out.returncode == 0) == ok, out.stderr
        return out.stdout

    plan = json.loads(cli("plan", "--json"))
    assert [(c["setting"], c["before"], c["after"]) for c in plan["changes"]] == [
        ("rate_limit_rps", 100.0, 110.0), ("burst_limit", 200, 220)]
    dry = json.loads(cli("apply", "--json"))
    assert dry["dry_run"] is True and len(dry["applied"]) == 1 and dry["failed"] == []
    real = json.loads(cli("apply", "--yes", "--json"))
    assert real["dry_run"] is False and len(real["applied"]) == 1
    assert json.loads(cli("plan", "--json"))["changes"] == []
    assert "no changes: the live targets already hold every recommendation in force" in cli("plan")
    rows = json.loads(cli("actions", "--json"))["actions"]
    assert [r["outcome"] for r in rows] == ["would_apply", "applied"]
    assert rows[1]["before_state"] == {"rate_limit_rps": 100.0, "burst_limit": 200}
    assert rows[1]["after_state"] == {"rate_limit_rps": 110.0, "burst_limit": 220}
    assert rows[1]["actor"].startswith("cli:")
    back = json.loads(cli("rollback", "--last", "--yes", "--json"))
    assert len(back["restored"]) == 1 and back["failed"] == []
    assert len(json.loads(cli("plan", "--json"))["changes"]) == 2
    assert "give either --action" in subprocess.run([sys.executable, "-m", "forecaster.cli", "rollback"], env=env,
                                                    cwd=tmp_path, capture_output=True, text=True).stderr


def test_plan_with_nothing_decided_says_so(tmp_path):
    """An empty store is not "the live targets already hold every recommendation": there is none."""
    from typer.testing import CliRunner

    from forecaster.cli import app

    db = tmp_path / "empty.duckdb"
    connect(db).close()
    res = CliRunner().invoke(app, ["plan", "--db", str(db), "--as-of", "2026-11-25T05:00"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "no recommendation in force at 2026-11-25 05:00 UTC: nothing to plan" in res.stdout
    assert "already hold" not in res.stdout
    res = CliRunner().invoke(app, ["actions", "--db", str(db)], env={"COLUMNS": "200"})
    assert res.exit_code == 0 and res.stdout.startswith("no action recorded yet"), res.output
