"""Merging mined routes moves the model calls' routes too, and the token rollup follows exactly."""

from __future__ import annotations

import datetime as dt

from forecaster.store import llm, route_paths
from forecaster.store.db import connect, run


def _call(con, rid, route, gw_route, tokens):
    run(con, "INSERT INTO llm_calls (request_id, id_logged, source_id, line_no, ts, api, stage, route, provider, "
             "model, region, client, tier, input_tokens, output_tokens, cached_input_tokens, gw_api, gw_stage, "
             "gw_route) VALUES (?, true, 1, 1, ?, 'ai', '-', ?, 'bedrock', 'm', 'us-east-1', 'k', 'on_demand', ?, "
             "1, 0, ?, ?, ?)",
        [rid, dt.datetime(2026, 11, 20, 10, 0, 30), route, tokens,
         "ai" if gw_route else None, "prod" if gw_route else None, gw_route])


def test_merging_routes_moves_model_calls_and_rebuilds_tokens(tmp_path):
    con = connect(tmp_path / "m.duckdb")
    _call(con, "a", "GET /docs/one.txt", None, 10)
    _call(con, "b", "POST /chat", "GET /docs/two.txt", 20)
    _call(con, "c", "POST /chat", None, 40)
    llm.rebuild_rollup(con)
    route_paths.merge_routes(con, [("ai", "GET /docs/one.txt", "GET /docs/{name}.txt"),
                                   ("ai", "GET /docs/two.txt", "GET /docs/{name}.txt")])
    assert sorted(run(con, "SELECT request_id, route, gw_route FROM llm_calls")) == [
        ("a", "GET /docs/{name}.txt", None), ("b", "POST /chat", "GET /docs/{name}.txt"), ("c", "POST /chat", None)]
    assert sorted(run(con, "SELECT stage, route, requests, input_tokens FROM tokens_1m")) == [
        ("-", "GET /docs/{name}.txt", 1, 10), ("-", "POST /chat", 1, 40), ("prod", "GET /docs/{name}.txt", 1, 20)]
    con.close()
