"""Repository of ``llm_calls`` (one row per model call) and ``tokens_1m`` (its per-minute rollup).

``llm_calls`` keeps what a call cost in tokens and who made it, never the prompt or the response.
Its ``request_id`` is unique, so the same call delivered twice (CloudWatch Logs and S3, an
overlapping export) counts once. A call whose request id matches a gateway request (``requests``)
takes that request's api, stage, route and client (``gw_*``, with the request's source, so
forgetting the access log takes the attribution back). ``tokens_1m`` is rebuilt from
``llm_calls`` after each load or forget: model-call volumes are small next to request logs.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

if TYPE_CHECKING:   # pandas only for the frames some reads return: not imported by commands that never use it
    import pandas as pd

from .db import Connection, Relation, frame, rel_insert, rel_rows, run, scalar

CALL_COLUMNS = ("request_id", "id_logged", "source_id", "line_no", "ts", "api", "stage", "route", "provider",
                "model", "region", "client", "operation", "tier", "input_tokens", "output_tokens",
                "cached_input_tokens", "logged_cost_usd", "llm_latency_ms", "prompt_hash")

ROLLUP_KEY = ("ts", "api", "stage", "route", "provider", "model", "region", "client", "tier")
ROLLUP_MEASURES = ("requests", "input_tokens", "output_tokens", "cached_input_tokens", "logged_cost_usd")

STAGE_TABLE = "_llm_stage"   # the chunk's checked calls, before the dedupe and insert


def stage(rel: Relation, sql: str) -> None:
    """Hold a chunk's checked token rows (``sql`` over ``rel``, called ``_c``) in a temp table."""
    rel_rows(rel, f"CREATE OR REPLACE TEMP TABLE {STAGE_TABLE} AS {sql}", "_c")


def staged(con: Connection, sql: str) -> list[tuple]:
    """Run ``sql`` over the staged rows (named ``_s`` in it)."""
    return run(con, sql.replace("_s", STAGE_TABLE))


def insert_staged(con: Connection) -> tuple[int, int]:
    """Insert the good staged calls not stored before (first of a chunk's repeats); (inserted, duplicates)."""
    cols = ", ".join(CALL_COLUMNS)
    good = scalar(con, f"SELECT count(*) FROM {STAGE_TABLE} WHERE reason IS NULL") or 0
    run(con, f"""INSERT INTO llm_calls ({cols})
                 SELECT {cols} FROM {STAGE_TABLE} s
                 WHERE reason IS NULL AND NOT EXISTS (SELECT 1 FROM llm_calls c WHERE c.request_id = s.request_id)
                 QUALIFY row_number() OVER (PARTITION BY request_id ORDER BY line_no) = 1""")
    inserted = scalar(con, f"""SELECT count(*) FROM llm_calls WHERE request_id IN
                                (SELECT request_id FROM {STAGE_TABLE} WHERE reason IS NULL)
                                AND source_id = (SELECT any_value(source_id) FROM {STAGE_TABLE})""") or 0
    return inserted, good - inserted


def drop_stage(con: Connection) -> None:
    run(con, f"DROP TABLE IF EXISTS {STAGE_TABLE}")


def add_rejects(con: Connection, rows: Relation, keep: int) -> None:
    """Append rejects (source_id, line_no, line, reason) with the line's bodies removed (see :func:`redact_sql`)."""
    rel_insert(rel_rows_relation(rows, f"SELECT source_id, line_no, left({redact_sql('line')}, {keep}) AS raw, reason FROM _r"),
               "rejects")


def rel_rows_relation(rel: Relation, sql: str) -> Relation:
    out = rel.query("_r", sql)
    if out is None:
        raise ValueError("query over a relation returned no relation")
    return out


# JSON keys whose value is a prompt or a response: a reject's text is cut where the first begins.
BODY_KEYS = ("inputBodyJson", "outputBodyJson", "inputBodyS3Path", "outputBodyS3Path", "payload", "messages",
             "choices", "prompt", "completion", "content", "input_text", "output_text")
REDACTED = '"<body removed>"'


def redact_sql(col: str) -> str:
    """``col`` with everything from the first body key on replaced (a truncated line is cut too)."""
    keys = "|".join(BODY_KEYS)
    return (f"regexp_replace(regexp_replace({col}, '\\r?\\n$', ''), "
            f"'\"({keys})\"\\s*:.*$', '{REDACTED}', 's')")


def redact_rejects(con: Connection, source_ids: list[int] | None = None, formats: tuple[str, ...] = ()) -> None:
    """Cut bodies out of the rejects of the sources of ``formats`` (among ``source_ids`` when given)."""
    if not formats:
        return
    where = f"source_id IN (SELECT source_id FROM sources WHERE format IN ({', '.join('?' * len(formats))}))"
    params = list[object](formats)
    if source_ids is not None:
        where += f" AND source_id IN ({', '.join('?' * len(source_ids))})"
        params += list[object](source_ids)
    keys = "|".join(BODY_KEYS)
    run(con, f"UPDATE rejects SET raw = {redact_sql('raw')} WHERE {where} AND regexp_matches(raw, '\"({keys})\"')",
        params)


def redact_source_rejects(con: Connection, source_id: int) -> None:
    """Cut bodies out of one source's rejects (during its load, before it commits)."""
    keys = "|".join(BODY_KEYS)
    run(con, f"UPDATE rejects SET raw = {redact_sql('raw')} WHERE source_id = ? AND regexp_matches(raw, '\"({keys})\"')",
        [source_id])


def calls_of(con: Connection, source_ids: list[int] | None) -> int:
    """Calls stored from ``source_ids`` (all calls for None)."""
    if source_ids is None:
        return scalar(con, "SELECT count(*) FROM llm_calls") or 0
    return scalar(con, f"SELECT count(*) FROM llm_calls WHERE source_id IN ({', '.join('?' * len(source_ids))})",
                  source_ids) or 0


def has_calls(con: Connection) -> bool:
    return bool(scalar(con, "SELECT count(*) > 0 FROM (SELECT 1 FROM llm_calls LIMIT 1)"))


def has_rollup(con: Connection) -> bool:
    return bool(scalar(con, "SELECT count(*) > 0 FROM (SELECT 1 FROM tokens_1m LIMIT 1)"))


def attribute(con: Connection, source_ids: list[int] | None = None) -> int:
    """Give calls not yet attributed the api, stage, route and client of the gateway request with their id.

    ``source_ids``: only pairs where the call or the request comes from these sources (a load's new
    ones: the request side is read by source, not scanned whole); None: every pair."""
    before = scalar(con, "SELECT count(*) FROM llm_calls WHERE gw_route IS NOT NULL") or 0
    sets = """UPDATE llm_calls SET gw_api = r.api, gw_stage = r.stage, gw_route = r.route, gw_client = r.client,
                     gw_source_id = r.source_id"""
    if source_ids is None:
        run(con, f"{sets} FROM requests r WHERE llm_calls.gw_route IS NULL AND r.request_id = llm_calls.request_id")
    else:
        marks = ", ".join("?" * len(source_ids))
        run(con, f"""{sets} FROM (SELECT request_id, api, stage, route, client, source_id FROM requests
                                  WHERE source_id IN ({marks})) r
                     WHERE llm_calls.gw_route IS NULL AND r.request_id = llm_calls.request_id""", source_ids)
        if calls_of(con, source_ids):
            run(con, f"""{sets} FROM requests r WHERE llm_calls.gw_route IS NULL AND llm_calls.source_id IN ({marks})
                         AND r.request_id = llm_calls.request_id""", source_ids)
    return (scalar(con, "SELECT count(*) FROM llm_calls WHERE gw_route IS NOT NULL") or 0) - before


def rebuild_rollup(con: Connection) -> int:
    """``tokens_1m`` from ``llm_calls``, wholly; returns its rows."""
    run(con, "DELETE FROM tokens_1m")
    run(con, f"""INSERT INTO tokens_1m ({', '.join(ROLLUP_KEY + ROLLUP_MEASURES)})
                 SELECT date_trunc('minute', ts), coalesce(gw_api, api), coalesce(gw_stage, stage),
                        coalesce(gw_route, route), provider, model, region, coalesce(gw_client, client, '-'), tier,
                        count(*), sum(input_tokens), sum(output_tokens), sum(cached_input_tokens),
                        sum(logged_cost_usd)
                 FROM llm_calls GROUP BY ALL""")
    return scalar(con, "SELECT count(*) FROM tokens_1m") or 0


def source_formats(con: Connection, ids: list[int]) -> dict[int, str | None]:
    if not ids:
        return {}
    return dict(run(con, f"SELECT source_id, format FROM sources WHERE source_id IN ({', '.join('?' * len(ids))})", ids))


def forget_sources(con: Connection, ids: list[int]) -> int:
    """Delete the calls of sources ``ids`` and take back attributions their requests gave; returns calls deleted."""
    if not ids:
        return 0
    marks = ", ".join("?" * len(ids))
    n = scalar(con, f"SELECT count(*) FROM llm_calls WHERE source_id IN ({marks})", ids) or 0
    run(con, f"DELETE FROM llm_calls WHERE source_id IN ({marks})", ids)
    run(con, f"""UPDATE llm_calls SET gw_api = NULL, gw_stage = NULL, gw_route = NULL, gw_client = NULL,
                        gw_source_id = NULL WHERE gw_source_id IN ({marks})""", ids)
    return n


# ---- reads ------------------------------------------------------------------------------------

def hourly(con: Connection, start: dt.datetime, end: dt.datetime) -> pd.DataFrame:
    """Tokens per hour and key in [start, end)."""
    return frame(con, f"""SELECT date_trunc('hour', ts) AS ts, {', '.join(ROLLUP_KEY[1:])},
                                 sum(requests)::BIGINT AS requests, sum(input_tokens)::BIGINT AS input_tokens,
                                 sum(output_tokens)::BIGINT AS output_tokens,
                                 sum(cached_input_tokens)::BIGINT AS cached_input_tokens,
                                 sum(logged_cost_usd) AS logged_cost_usd
                          FROM tokens_1m WHERE ts >= ? AND ts < ? GROUP BY ALL ORDER BY ALL""", [start, end])


def span(con: Connection) -> tuple[dt.datetime | None, dt.datetime | None]:
    row = run(con, "SELECT min(ts), max(ts) FROM tokens_1m")
    return (row[0][0], row[0][1]) if row else (None, None)


def totals(con: Connection) -> dict[str, int]:
    """Whole-table sums of llm_calls (tests and reports)."""
    row = run(con, """SELECT count(*), coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0),
                             coalesce(sum(cached_input_tokens), 0) FROM llm_calls""")[0]
    return dict(zip(("calls", "input_tokens", "output_tokens", "cached_input_tokens"), map(int, row)))


def call_stats(con: Connection, start: dt.datetime, end: dt.datetime) -> pd.DataFrame:
    """Model calls in [start, end) per api, stage, route, client, provider, model, region and pricing
    tier (gateway attribution first): calls, tokens, the median logged latency and how many logged
    one, and the first call's time (decide's token quotas and model-routing advice)."""
    return frame(con, """SELECT coalesce(gw_api, api) AS api, coalesce(gw_stage, stage) AS stage,
                                coalesce(gw_route, route) AS route, coalesce(gw_client, client, '-') AS client,
                                provider, model, region, tier, count(*)::BIGINT AS requests,
                                sum(input_tokens)::BIGINT AS input_tokens, sum(output_tokens)::BIGINT AS output_tokens,
                                sum(cached_input_tokens)::BIGINT AS cached_input_tokens,
                                median(llm_latency_ms) AS latency_p50_ms, count(llm_latency_ms)::BIGINT AS latency_n,
                                min(ts) AS first_ts
                         FROM llm_calls WHERE ts >= ? AND ts < ? GROUP BY ALL ORDER BY ALL""", [start, end])


def model_latency(con: Connection, start: dt.datetime, end: dt.datetime) -> pd.DataFrame:
    """Median logged latency (ms) per provider and model over every route in [start, end)."""
    return frame(con, """SELECT provider, model, median(llm_latency_ms) AS latency_p50_ms,
                                count(llm_latency_ms)::BIGINT AS latency_n
                         FROM llm_calls WHERE ts >= ? AND ts < ? AND llm_latency_ms IS NOT NULL
                         GROUP BY ALL ORDER BY ALL""", [start, end])


def prompt_repeats(con: Connection, start: dt.datetime, end: dt.datetime, ttl_s: float) -> pd.DataFrame:
    """Calls with a prompt hash in [start, end) per api, stage, route, provider, model, region, client
    and pricing tier: calls, distinct prompts, and the *hits* — calls whose prompt (by hash) the same
    route and model saw within ``ttl_s`` before — with the hits' tokens (what a response cache saves)."""
    return frame(con, """
        WITH c AS (
            SELECT coalesce(gw_api, api) AS api, coalesce(gw_stage, stage) AS stage, coalesce(gw_route, route) AS route,
                   coalesce(gw_client, client, '-') AS client, provider, model, region, tier, ts, prompt_hash,
                   input_tokens, output_tokens, cached_input_tokens,
                   lag(ts) OVER (PARTITION BY coalesce(gw_api, api), coalesce(gw_stage, stage),
                                              coalesce(gw_route, route), provider, model, prompt_hash
                                 ORDER BY ts, request_id) AS prev_ts
            FROM llm_calls WHERE ts >= ? AND ts < ? AND prompt_hash IS NOT NULL),
        h AS (SELECT *, prev_ts IS NOT NULL AND epoch(ts) - epoch(prev_ts) <= ? AS hit FROM c)
        SELECT api, stage, route, provider, model, region, client, tier, count(*)::BIGINT AS calls,
               count(DISTINCT prompt_hash)::BIGINT AS distinct_prompts,
               count(*) FILTER (WHERE hit)::BIGINT AS requests,
               coalesce(sum(input_tokens) FILTER (WHERE hit), 0)::BIGINT AS input_tokens,
               coalesce(sum(output_tokens) FILTER (WHERE hit), 0)::BIGINT AS output_tokens,
               coalesce(sum(cached_input_tokens) FILTER (WHERE hit), 0)::BIGINT AS cached_input_tokens,
               sum(output_tokens)::BIGINT AS all_output_tokens, min(ts) AS first_ts
        FROM h GROUP BY ALL ORDER BY ALL""", [start, end, float(ttl_s)])
