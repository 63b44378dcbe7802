"""Model-call logs (Bedrock invocation logs, Kong AI Proxy, OpenAI-style usage) through the public
``ingest`` on a real DuckDB file: exact token sums, detection, the join to gateway routes by
request id, exactly-once, forget, bad input with reasons, and bodies that never reach the store."""

from __future__ import annotations

import json

import pytest

from forecaster.config import Settings
from forecaster.ingest import ingest
from forecaster.ingest.forget import forget
from forecaster.ingest.formats import get_format
from forecaster.ingest.llm import MAX_TOKENS_PER_CALL
from forecaster.store import llm as store_llm
from forecaster.store.db import connect, run

MARKER = "ZEBRA-PROMPT-7f3a9c"   # a body's text: must never be found in the store


@pytest.fixture
def con(tmp_path):
    c = connect(tmp_path / "llm.duckdb")
    yield c
    c.close()


def bedrock(i: int, n_in: int | str = 100, n_out: int | str = 20, cached: int = 0, model: str = "amazon.nova-lite-v1:0",
            minute: int = 0, body: bool = False, **over) -> str:
    d: dict = {"schemaType": "ModelInvocationLog", "schemaVersion": "1.0",
               "timestamp": f"2026-11-20T10:{minute:02d}:{i % 60:02d}Z", "accountId": "123456789012",
               "identity": {"arn": "arn:aws:sts::123456789012:assumed-role/bot/x"}, "region": "us-east-1",
               "requestId": f"br-{i}", "operation": "Converse", "modelId": model,
               "input": {"inputContentType": "application/json", "inputTokenCount": n_in,
                         "cacheReadInputTokenCount": cached, "cacheWriteInputTokenCount": 0},
               "output": {"outputContentType": "application/json", "outputTokenCount": n_out}}
    if body:
        d["input"]["inputBodyJson"] = {"messages": [{"role": "user", "content": [{"text": MARKER}]}]}
        d["output"]["outputBodyJson"] = {"output": {"message": {"content": [{"text": MARKER + " answer"}]}}}
    d.update(over)
    return json.dumps(d) + "\n"


def usage(i: int, n_in: int | str = 1000, n_out: int | str = 100, cached: int = 0, **over) -> str:
    d: dict = {"id": f"chatcmpl-{i}", "created": 1795323600 + i, "model": "gpt-4o-mini", "request_id": f"gw-{i}",
               "usage": {"prompt_tokens": n_in, "completion_tokens": n_out,
                         "prompt_tokens_details": {"cached_tokens": cached}}}
    d.update(over)
    return json.dumps(d) + "\n"


def kong_ai(i: int, n_in: int | str = 300, n_out: int | str = 50, body: bool = False) -> str:
    d: dict = json.loads(get_format("kong_ai").examples[0])
    d["request"]["id"] = f"kong-{i}"
    d["started_at"] = 1795323601123 + i
    d["ai"]["proxy"]["usage"] = {"prompt_tokens": n_in, "completion_tokens": n_out}
    if body:
        d["ai"]["proxy"]["payload"] = {"request": MARKER, "response": MARKER}
    return json.dumps(d) + "\n"


def apigw(i: int, route: str = "/answer", method: str = "POST") -> str:
    return json.dumps({"requestId": f"gw-{i}", "requestTime": f"22/Nov/2026:05:00:{i % 60:02d} +0000",
                       "httpMethod": method, "resourcePath": route, "status": "200", "responseLength": "10",
                       "caller": "key-abc"}) + "\n"


def load(con, tmp_path, text: str, name: str, settings: Settings | None = None):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    rep = ingest(con, [str(p)], settings or Settings())
    return rep.by_source[0]


def rejects(con) -> list[tuple[int, str]]:
    return run(con, "SELECT line_no, reason FROM rejects ORDER BY source_id, line_no")


def test_formats_detected_from_their_examples(con, tmp_path):
    for name in ("bedrock", "kong_ai", "openai_usage"):
        sr = load(con, tmp_path, "".join(x + "\n" for x in get_format(name).examples), f"{name}.log")
        assert sr.format == name and sr.rows_rejected == 0
    assert load(con, tmp_path, get_format("kong").examples[0] + "\n", "plain_kong.log").format == "kong"


def test_token_counts_summed_exactly(con, tmp_path):
    lines = [bedrock(i, n_in=100 + i, n_out=7 * i, cached=i % 3, minute=i // 20) for i in range(60)]
    sr = load(con, tmp_path, "".join(lines), "b.log")
    assert (sr.format, sr.rows_loaded, sr.rows_rejected) == ("bedrock", 60, 0)
    # Bedrock's inputTokenCount excludes cache reads: ours is the sum of both
    exp_in = sum(100 + i + i % 3 for i in range(60))
    exp_out = sum(7 * i for i in range(60))
    exp_cached = sum(i % 3 for i in range(60))
    assert store_llm.totals(con) == {"calls": 60, "input_tokens": exp_in, "output_tokens": exp_out,
                                     "cached_input_tokens": exp_cached}
    rows = run(con, """SELECT ts, api, route, model, client, requests, input_tokens, output_tokens, cached_input_tokens
                       FROM tokens_1m ORDER BY ts""")
    assert [r[5] for r in rows] == [20, 20, 20]
    assert sum(r[6] for r in rows) == exp_in and sum(r[7] for r in rows) == exp_out
    assert rows[1][6] == sum(100 + i + i % 3 for i in range(20, 40))
    assert {r[1:5] for r in rows} == {("bedrock", "{unattributed}", "amazon.nova-lite-v1:0",
                                       "arn:aws:sts::123456789012:assumed-role/bot/x")}
    assert run(con, "SELECT count(*) FROM requests")[0][0] == 0   # model calls are not gateway requests


def test_kong_ai_lines_are_requests_with_their_tokens(con, tmp_path):
    sr = load(con, tmp_path, "".join(kong_ai(i, n_in=10 * i, n_out=i) for i in range(1, 11)), "k.log")
    assert (sr.format, sr.rows_loaded) == ("kong_ai", 10)
    assert run(con, "SELECT count(*) FROM requests")[0][0] == 10
    rows = run(con, "SELECT api, route, provider, model, client, sum(input_tokens), sum(output_tokens), "
                    "sum(logged_cost_usd) FROM tokens_1m GROUP BY ALL")
    assert rows == [("ai-gateway", "POST /v1/chat/completions", "openai", "gpt-4o-mini", "team-search", 550, 55,
                     None)]


def test_usage_records_join_the_gateway_route_by_request_id_in_either_order(con, tmp_path):
    use = "".join(usage(i, n_in=1000 + i) for i in range(4)) + usage(9, request_id=None)   # 9: no gateway request
    load(con, tmp_path, use, "usage.log")
    assert run(con, "SELECT DISTINCT route FROM tokens_1m") == [("{unattributed}",)]
    gw = load(con, tmp_path, "".join(apigw(i) for i in range(4)), "access.log")   # the access log comes later
    rows = run(con, "SELECT route, client, requests, input_tokens FROM tokens_1m ORDER BY route")
    assert rows == [("POST /answer", "key-abc", 4, 4006), ("{unattributed}", "-", 1, 1000)]
    forget(con, str(gw.source_id))   # forgetting the access log takes the attribution back
    assert run(con, "SELECT route, sum(requests) FROM tokens_1m GROUP BY 1") == [("{unattributed}", 5)]


def test_exactly_once_duplicates_and_forget(con, tmp_path):
    first = load(con, tmp_path, "".join(bedrock(i) for i in range(10)), "cw.log")
    again = load(con, tmp_path, "".join(bedrock(i) for i in range(10)), "cw.log")
    assert again.status == "skipped"
    # the same records delivered to S3 too, plus five new ones: only the new ones count
    s3 = load(con, tmp_path, "".join(bedrock(i) for i in range(5, 15)), "s3.log")
    assert (s3.rows_loaded, s3.rows_duplicate) == (5, 5)
    assert store_llm.totals(con)["calls"] == 15
    assert run(con, "SELECT sum(requests) FROM tokens_1m")[0][0] == 15
    rep = forget(con, str(s3.source_id))
    assert rep.llm_calls == 5
    assert run(con, "SELECT sum(requests), sum(input_tokens) FROM tokens_1m")[0] == (10, 1000)
    forget(con, str(first.source_id))
    assert run(con, "SELECT count(*) FROM tokens_1m")[0][0] == 0


def test_bad_input_rejected_with_reasons_nothing_lost(con, tmp_path):
    lines = [
        bedrock(1),                                          # 1 good
        bedrock(2, n_in=-5),                                 # 2 negative
        bedrock(3, n_out=MAX_TOKENS_PER_CALL + 1),           # 3 absurd
        bedrock(4, n_in="lots"),                             # 4 not a number
        bedrock(5, n_in=10, cached=0, model="") ,            # 5 no model id
        bedrock(6, model="acme.unknown-model-v9"),           # 6 unknown model: loads (flagged when priced)
        bedrock(7, requestId=None),                          # 7 no request id: loads, keyed by source and line
        bedrock(8)[:120] + "\n",                             # 8 truncated JSON
        json.dumps({"schemaType": "ModelInvocationLog", "timestamp": "2026-11-20T10:00:00Z", "modelId": "m",
                    "requestId": "br-9"}) + "\n",           # 9 no token counts at all
    ]
    sr = load(con, tmp_path, "".join(lines), "bad.log")
    assert sr.format == "bedrock"
    assert (sr.rows_loaded, sr.rows_rejected, sr.rows_duplicate) == (3, 6, 0)
    reasons = dict(rejects(con))
    assert reasons[2] == "input_tokens: expected a count >= 0, got -5"
    assert reasons[3] == f"output_tokens: expected at most {MAX_TOKENS_PER_CALL} per call, got {MAX_TOKENS_PER_CALL + 1}"
    assert reasons[4].startswith("input_tokens: expected an integer token count, got lots")
    assert reasons[5].startswith("model: missing")
    assert reasons[8] == "malformed JSON"
    assert reasons[9] == "tokens: no input or output token count"
    ids = dict(run(con, "SELECT line_no, request_id FROM llm_calls"))
    assert ids[7].endswith(":7") and ids[6] == "br-6"


def test_cached_more_than_input_is_rejected(con, tmp_path):
    sr = load(con, tmp_path, usage(1, n_in=100, cached=200) + usage(2), "u.log")
    assert (sr.rows_loaded, sr.rows_rejected) == (1, 1)
    assert rejects(con) == [(1, "cached_input_tokens: expected at most the input tokens (100), got 200")]


def test_kong_ai_bad_tokens_keep_the_request_and_reject_the_tokens(con, tmp_path):
    sr = load(con, tmp_path, kong_ai(1) + kong_ai(2, n_in=-1), "k.log")
    assert sr.rows_loaded == 2 and run(con, "SELECT count(*) FROM requests")[0][0] == 2
    assert store_llm.totals(con)["calls"] == 1
    assert rejects(con) == [(2, "tokens: input_tokens: expected a count >= 0, got -1")]


def test_bodies_never_reach_the_store(con, tmp_path):
    settings = Settings(ingest_max_line_kb=1)
    huge = bedrock(50, body=True).replace(MARKER, MARKER + "x" * 1500, 1)   # rejected as too long
    text = (bedrock(1, body=True) + bedrock(2, body=True)[:400] + "\n" + huge
            + bedrock(3, body=True, n_in=-1))
    load(con, tmp_path, text, "b.log", settings)
    load(con, tmp_path, kong_ai(1, body=True) + kong_ai(2, body=True, n_in=-3), "k.log", settings)
    body_usage = usage(1, choices=[{"message": {"content": MARKER}}])
    load(con, tmp_path, body_usage + usage(2, n_in=-1, messages=[{"content": MARKER}]), "u.log", settings)
    assert store_llm.totals(con)["calls"] == 3
    assert len(rejects(con)) >= 5
    cols = run(con, """SELECT table_name, column_name FROM information_schema.columns
                       WHERE data_type IN ('VARCHAR', 'JSON') AND table_schema = 'main'""")
    assert cols
    for table, col in cols:
        hits = run(con, f'SELECT count(*) FROM "{table}" WHERE CAST("{col}" AS VARCHAR) LIKE ?', [f"%{MARKER}%"])
        assert hits[0][0] == 0, f"{table}.{col} holds a body"
    assert "<body removed>" in "".join(r[0] for r in run(con, "SELECT raw FROM rejects"))
