"""Model calls into ``llm_calls``: the token side of a chunk of a model-call log (formats/llm.py).

Per chunk, inside the source's transaction: the format's ``tokens`` SELECT reads the raw token
columns; they are joined by line to the chunk's normalized rows (time, api, stage, route, region,
client and request id, already typed and checked); counts are typed and checked here, every
problem named; good calls not stored before go to ``llm_calls``, the rest to ``rejects``.

* A model-call-only format (Bedrock, OpenAI usage): a line with a bad token count is rejected.
* A gateway log with model calls in it (Kong AI Proxy): the line is a request all the same; a bad
  token count rejects the token side only (a reject row whose reason starts ``tokens:``), and a
  line with no model and no counts is a plain request, not a model call.

Prompt and response bodies are never read into a column; reject texts have them cut out
(``store.llm.redact_sql``), before the source commits and again after the whole load (for
lines rejected as too long). After a load, :func:`refresh` attributes calls to gateway routes by
request id and rebuilds ``tokens_1m``.
"""

from __future__ import annotations

import logging

import pyarrow as pa

from ..config import Settings
from ..store import llm as store_llm
from ..store.db import Connection, Relation, from_arrow, rel_rows, run
from .formats import LogFormat
from .formats.llm import TOKEN_FORMATS, TOKEN_RAW
from .normalize import NormalizeContext

log = logging.getLogger(__name__)

MAX_TOKENS_PER_CALL = 10_000_000   # ten times the largest context window on sale in 2026: more is a broken counter
TOK_TABLE = "_llm_tok"

_COUNTS = {"input": "_in", "output": "_out", "cached_input": "_cached", "total": "_total"}


def _checked_sql(fmt: LogFormat, keep_plain: bool) -> str:
    """SELECT over the parsed chunk ``_c`` joined to the token columns: typed calls with a reason."""
    typed = ("TRY_CAST(t.in_raw AS BIGINT) + coalesce(TRY_CAST(t.extra_in_raw AS BIGINT), 0) AS _in, "
             "TRY_CAST(t.out_raw AS BIGINT) AS _out, TRY_CAST(t.cached_raw AS BIGINT) AS _cached, "
             "TRY_CAST(t.total_raw AS BIGINT) AS _total, TRY_CAST(t.cost_raw AS DOUBLE) AS _cost, "
             "TRY_CAST(t.llm_latency_raw AS DOUBLE) AS _lat")
    raw = {"input": "t.in_raw", "output": "t.out_raw", "cached_input": "t.cached_raw", "total": "t.total_raw"}
    problems = ["CASE WHEN t.model IS NULL THEN 'model: missing (no model id in the record)' END",
                "CASE WHEN t.in_raw IS NULL AND t.out_raw IS NULL THEN 'tokens: no input or output token count' END"]
    for name, col in _COUNTS.items():
        problems += [
            f"CASE WHEN {raw[name]} IS NOT NULL AND {col} IS NULL "
            f"THEN '{name}_tokens: expected an integer token count, got ' || left({raw[name]}, 40) END",
            f"CASE WHEN {col} < 0 THEN '{name}_tokens: expected a count >= 0, got ' || {col} END",
            f"CASE WHEN {col} > {MAX_TOKENS_PER_CALL} THEN '{name}_tokens: expected at most "
            f"{MAX_TOKENS_PER_CALL} per call, got ' || {col} END",
        ]
    problems += [
        "CASE WHEN _in >= 0 AND _cached > _in THEN 'cached_input_tokens: expected at most the input tokens (' || _in || '), got ' "
        "|| _cached END",
        "CASE WHEN t.cost_raw IS NOT NULL AND (_cost IS NULL OR _cost < 0 OR NOT isfinite(_cost)) "
        "THEN 'cost: expected a dollar amount >= 0, got ' || left(t.cost_raw, 40) END",
    ]
    reason = f"nullif(concat_ws('; ', {', '.join(problems)}), '')"
    plain = "" if keep_plain else "WHERE NOT (t.model IS NULL AND t.in_raw IS NULL AND t.out_raw IS NULL)"
    return f"""
    SELECT {reason} AS reason, request_id, id_logged, source_id, line_no, ts, api, stage, route,
           coalesce(t.provider, 'unknown') AS provider, coalesce(t.model, '') AS model, region, client,
           t.operation AS operation, coalesce(t.tier, 'on_demand') AS tier,
           coalesce(_in, 0) AS input_tokens, coalesce(_out, 0) AS output_tokens,
           coalesce(_cached, 0) AS cached_input_tokens, _cost AS logged_cost_usd, _lat AS llm_latency_ms
    FROM (SELECT c.*, t.*, {typed}
          FROM (SELECT *, {{sid}}::BIGINT AS source_id FROM _c WHERE reason IS NULL) c
          JOIN {TOK_TABLE} t USING (line_no)) t
    {plain}
    """


def load_chunk(con: Connection, parsed: Relation, table: pa.Table, fmt: LogFormat, ctx: NormalizeContext,
               settings: Settings, sr, n_good: int) -> int:
    """Store the chunk's model calls; returns how many of its good rows go on as requests."""
    assert fmt.tokens is not None
    keep = settings.reject_raw_max_chars
    rel_rows(from_arrow(con, table), f"CREATE OR REPLACE TEMP TABLE {TOK_TABLE} AS {fmt.tokens('_chunk')}", "_chunk")
    store_llm.stage(parsed, _checked_sql(fmt, keep_plain=not fmt.requests).replace("{sid}", str(ctx.source_id)))
    inserted, dups = store_llm.insert_staged(con)
    bad = store_llm.staged(con, "SELECT line_no, reason FROM _s WHERE reason IS NOT NULL ORDER BY line_no")
    if bad:
        line_nos = table.column("line_no").to_pylist()
        at = {n: i for i, n in enumerate(line_nos)}
        lines = table.column("line").take(pa.array([at[n] for n, _ in bad])).to_pylist()
        prefix = "" if not fmt.requests else "tokens: "
        rows = pa.table({
            "source_id": pa.array([ctx.source_id] * len(bad), pa.int64()),
            "line_no": pa.array([n for n, _ in bad], pa.int64()),
            "line": pa.array([x.decode("utf-8", "replace") if isinstance(x, bytes) else x for x in lines], pa.string()),
            "reason": pa.array([r if r.startswith("tokens") else prefix + r for _, r in bad], pa.string())})
        store_llm.add_rejects(con, from_arrow(con, rows), keep)
    store_llm.drop_stage(con)
    run(con, f"DROP TABLE IF EXISTS {TOK_TABLE}")
    store_llm.redact_source_rejects(con, ctx.source_id)   # lines the normalizer rejected (truncated JSON...)
    if fmt.requests:
        if bad:
            sr.note = ((sr.note + "; ") if sr.note else "") + f"{len(bad)} line(s) loaded as requests with their " \
                "token counts rejected (see rejects)"
        return n_good
    sr.rows_loaded += inserted
    sr.rows_duplicate += dups
    sr.rows_rejected += len(bad)
    return 0


def refresh(con: Connection, source_ids: list[int] | None = None) -> dict[str, int]:
    """After a load: scrub bodies from the model-call sources' rejects, attribute calls to gateway
    routes by request id, rebuild ``tokens_1m``. ``source_ids``: the sources just loaded (only their
    calls and their requests can make new pairs; nothing to do when they hold neither); None: all.
    Nothing to do (and no cost) without model calls."""
    if source_ids is not None and not source_ids:
        return {"attributed": 0, "rollup_rows": 0}
    store_llm.redact_rejects(con, source_ids, formats=TOKEN_FORMATS)
    if not store_llm.has_calls(con) and not store_llm.has_rollup(con):
        return {"attributed": 0, "rollup_rows": 0}
    new_calls = store_llm.calls_of(con, source_ids)
    attributed = store_llm.attribute(con, source_ids)
    if source_ids is not None and not new_calls and not attributed:
        return {"attributed": 0, "rollup_rows": 0}   # no new call, no new pair: tokens_1m stands
    return {"attributed": attributed, "rollup_rows": store_llm.rebuild_rollup(con)}


__all__ = ["MAX_TOKENS_PER_CALL", "TOKEN_RAW", "load_chunk", "refresh"]
