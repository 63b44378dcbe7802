"""Response-cache advice from repeated identical prompts: the prompt's SHA-256 is computed at ingest
(never the body), repeats within the TTL counted per route and model, hit ratio, tokens and dollars."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pandas as pd
import pytest

from forecaster.config import Settings
from forecaster.decide.guardrails import check_change
from forecaster.decide.inputs import DecideInputs
from forecaster.decide.models import prompt_cache
from forecaster.ingest import ingest
from forecaster.pricing.models import load_model_catalog
from forecaster.store import llm as store_llm
from forecaster.store import open_store

T0 = dt.datetime(2026, 11, 20, 10)
SECRET = "SECRET-PROMPT-TEXT"
# ten calls ten minutes apart on one route and model; prompts by letter
PROMPTS = ["A", "A", "B", "A", "C", "B", "A", "A", "C", "D"]


def usage_lines() -> str:
    out = []
    for i, p in enumerate(PROMPTS):
        out.append(json.dumps({"request_id": f"p-{i}", "ts": (T0 + dt.timedelta(minutes=10 * i)).isoformat() + "Z",
                               "api": "ai", "stage": "prod", "route": "POST /ask", "client": "k1", "model": "gpt-4o-mini",
                               "region": "us-east-1", "messages": [{"role": "user", "content": f"{SECRET} {p}"}],
                               "usage": {"prompt_tokens": 1000, "completion_tokens": 100}}))
    # a Bedrock record with its body logged: hashed the same way, body dropped
    out.append(json.dumps({"schemaType": "ModelInvocationLog", "schemaVersion": "1.0", "timestamp": "2026-11-20T12:00:00Z",
                           "accountId": "1", "identity": {"arn": "arn:aws:sts::1:assumed-role/x/y"}, "region": "us-east-1",
                           "requestId": "b-1", "operation": "Converse", "modelId": "amazon.nova-lite-v1:0",
                           "input": {"inputContentType": "application/json", "inputTokenCount": 10,
                                     "inputBodyJson": {"messages": [{"content": [{"text": SECRET}]}]}},
                           "output": {"outputContentType": "application/json", "outputTokenCount": 5,
                                      "outputBodyJson": {"output": SECRET}}}))
    return "\n".join(out[:-1]) + "\n", out[-1] + "\n"


@pytest.fixture
def store(tmp_path):
    usage, bedrock = usage_lines()
    (tmp_path / "usage.jsonl").write_text(usage)
    (tmp_path / "bedrock.log").write_text(bedrock)
    s = Settings(db=tmp_path / "s.duckdb")
    with open_store(s.db, s) as con:
        ingest(con, [str(tmp_path / "usage.jsonl"), str(tmp_path / "bedrock.log")], s)
        yield con


def test_hash_not_body_reaches_the_store(store):
    hashes = dict(store.execute("SELECT request_id, prompt_hash FROM llm_calls").fetchall())
    assert len(hashes) == 11 and all(h and len(h) == 64 for h in hashes.values())
    assert hashes["p-0"] == hashes["p-1"] != hashes["p-2"]
    body = store.execute("SELECT json_extract(?, '$.input.inputBodyJson')::VARCHAR",
                         [usage_lines()[1]]).fetchone()[0]
    assert hashes["b-1"] == hashlib.sha256(body.encode()).hexdigest()
    # the body text is nowhere: every text column of every table
    tables = store.execute("SELECT table_name, column_name FROM information_schema.columns "
                           "WHERE data_type = 'VARCHAR'").fetchall()
    for t, c in tables:
        n = store.execute(f'SELECT count(*) FROM "{t}" WHERE "{c}" LIKE ?', [f"%{SECRET}%"]).fetchone()[0]
        assert n == 0, (t, c)


def repeats(con, ttl_s):
    return store_llm.prompt_repeats(con, T0 - dt.timedelta(days=1), T0 + dt.timedelta(days=1), ttl_s)


def test_repeats_within_the_ttl_hand_counted(store):
    # one hour: A repeats at 10, 30, 60, 70 min; B at 50 (30 min after); C at 80 (40 after) -> 6 of 10
    r = repeats(store, 3600)
    ask = r[r["route"] == "POST /ask"]
    assert (int(ask["calls"].sum()), int(ask["distinct_prompts"].sum()), int(ask["requests"].sum())) == (10, 4, 6)
    assert (int(ask["input_tokens"].sum()), int(ask["output_tokens"].sum())) == (6000, 600)
    # twenty minutes: A at 10, 30 (20 min after 10) and 70 -> 3
    assert int(repeats(store, 1200).query("route == 'POST /ask'")["requests"].sum()) == 3


def inputs(as_of) -> DecideInputs:
    e = pd.DataFrame()
    return DecideInputs(run_id="fc", as_of=as_of, step_s=3600.0, forecasts=e, accuracy=e, spikes=e, stats=e,
                        observed=e, settings=Settings(), in_force={})


def test_cache_advice_from_repeated_prompts(store):
    s = Settings(decide_prompt_cache_ttl_s=3600, decide_cache_min_hit_ratio=0.5)
    as_of = T0 + dt.timedelta(hours=24)      # seen for a day: x30 for a month
    [rec] = prompt_cache(inputs(as_of), s, repeats(store, 3600), load_model_catalog())
    assert (rec.kind, rec.target) == ("cache", "ai|prod|POST /ask")
    assert rec.params["cache_scope"] == "model_response" and rec.params["ttl_s"] == 3600
    assert rec.expected_impact["hit_ratio"] == 0.6
    assert rec.expected_impact["tokens_saved_per_month"] == 6600 * 30
    # gpt-4o-mini: 6,000 in x $0.15 + 600 out x $0.60 per 1M = $0.00126, x30
    assert rec.expected_impact["usd_saved"] == pytest.approx(0.00126 * 30)
    assert check_change("cache", None, rec.params, s) == []
    # below the hit ratio: no advice
    assert prompt_cache(inputs(as_of), Settings(decide_cache_min_hit_ratio=0.7), repeats(store, 3600),
                        load_model_catalog()) == []


def test_stage_cache_adapter_leaves_a_model_response_cache_alone(store):
    from forecaster.config import Target
    from forecaster.control.adapters import get

    s = Settings(decide_cache_min_hit_ratio=0.5)
    [rec] = prompt_cache(inputs(T0 + dt.timedelta(hours=24)), s, repeats(store, 3600), load_model_catalog())
    d = {"id": "r1", "kind": rec.kind, "target": rec.target, "params": rec.params}
    stage = Target(kind="apigw_rest_stage", api="ai", rest_api_id="abc", stage="prod")
    assert not get("apigw_rest_stage").matches(stage, d)
    assert get("apigw_rest_stage").matches(stage, {**d, "params": {**rec.params, "cache_scope": None, "route": None}})
