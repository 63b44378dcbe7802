"""Token forecasts per route and model: the same fit as requests, priced, in the month-end projection."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from forecaster.forecast.tokens import forecast_tokens, token_histories
from forecaster.pricing.model_spend import model_spend
from forecaster.pricing.models import parse_model_catalog
from forecaster.pricing.token_forecast import forecast_lines

T0 = dt.datetime(2026, 11, 1)
CAT = parse_model_catalog({"model_price": [{"provider": "openai", "model": "gpt-x", "region": "*", "input": "0.20",
                                            "output": "0.80", "source": "https://example.test"}]})


def hourly(days: int) -> pd.DataFrame:
    """Every day: 10,000 tokens (8,000 in, 2,000 out) at 14:00, 1,000 (800 / 200) every other hour."""
    rows = []
    for h in range(days * 24):
        ts = T0 + dt.timedelta(hours=h)
        k = 10 if ts.hour == 14 else 1
        rows.append(dict(ts=ts, api="a", stage="prod", route="POST /chat", provider="openai", model="gpt-x",
                         region="us-east-1", client="k1", tier="on_demand", requests=k, input_tokens=800 * k,
                         output_tokens=200 * k, cached_input_tokens=0))
    return pd.DataFrame(rows)


def test_histories_fill_silent_hours_with_zero():
    h = hourly(2)
    h = h[h["ts"].dt.hour != 3]
    (sid, (key, hist)), = token_histories(h, T0 + dt.timedelta(days=2)).items()
    assert sid == "tokens:a|prod|POST /chat|openai|gpt-x" and len(hist.y) == 48
    assert hist.y[3] == 0 and hist.y[14] == 10_000 and hist.y[0] == 1_000


def test_forecast_priced_and_projected():
    h = hourly(14)
    as_of = T0 + dt.timedelta(days=14)
    tf = forecast_tokens(h, as_of, 72, model="seasonal_naive_daily")
    fc = tf.forecast
    assert len(fc) == 72 and set(fc["fitted_model"]) == {"seasonal_naive_daily"}
    assert (fc["yhat_lo_80"] <= fc["yhat"]).all() and (fc["yhat"] <= fc["yhat_hi_80"]).all()
    assert fc["yhat"].sum() == 3 * (10_000 + 23 * 1_000)
    lines = forecast_lines(fc, h, as_of)
    assert lines["input_tokens"].sum() == 3 * 26_400 and lines["output_tokens"].sum() == 3 * 6_600
    # $ per day: 26,400 in x 0.20 + 6,600 out x 0.80 = 10,560 micro$; the month: 30 days
    spend = model_spend(h, CAT, T0, as_of, as_of=as_of, project=True, forecast=lines)
    p = spend.projected
    assert int(p[p["kind"] == "forecast"]["usd_micros"].sum()) == 3 * 10_560
    assert int(p["usd_micros"].sum()) == 30 * 10_560
    assert spend.to_dict()["projection"]["forecast_usd"] == 3 * 0.01056


def test_tokens_forecast_cli(tmp_path):
    import json

    from typer.testing import CliRunner

    from forecaster.cli import app

    db, log = tmp_path / "t.duckdb", tmp_path / "u.log"
    start = 1795132800   # 2026-11-20 00:00 UTC
    log.write_text("".join(json.dumps({"created": start + 3600 * h, "model": "gpt-4o-mini", "request_id": f"r{h}",
                                       "route": "POST /chat", "usage": {"prompt_tokens": 1000, "completion_tokens": 100}})
                           + "\n" for h in range(72)))
    assert CliRunner().invoke(app, ["ingest", "--db", str(db), str(log)]).exit_code == 0
    res = CliRunner().invoke(app, ["tokens", "forecast", "--db", str(db), "--json", "--model", "seasonal_naive_daily",
                                   "--horizon", "24h"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    (s,) = out["series"]
    assert s["series"] == "tokens:llm|default|POST /chat|openai|gpt-4o-mini" and s["tokens"] == 24 * 1100
    # 24 x (1,000 x 0.15 + 100 x 0.60) micro$ = $0.00504; the projection counts the forecast from as_of (the
    # end of the data, 23:01): the 23:00 hour is actual, 23 forecast hours remain
    assert s["usd"] == 0.00504 and out["projection"]["forecast_usd"] == 0.00483
