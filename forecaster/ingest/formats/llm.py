"""Model-call (LLM) logs: who called which model with how many tokens. One JSON object per line.

Each format gives the usual canonical columns (so time, request id, api, route, region and client
are typed and checked like any access log's) plus, through ``tokens``, the raw token columns that
:mod:`forecaster.ingest.llm` types, checks and stores in ``llm_calls`` / ``tokens_1m``.
Prompt and response bodies are never read into a column: only the keys named below are.

* ``bedrock`` — Amazon Bedrock model invocation logs, the records Bedrock writes to CloudWatch Logs
  or S3 (``schemaType`` ModelInvocationLog, ``schemaVersion``, ``timestamp``, ``accountId``,
  ``identity.arn``, ``region``, ``requestId``, ``operation``, ``modelId``,
  ``input.inputTokenCount``, ``input.cacheReadInputTokenCount``, ``input.cacheWriteInputTokenCount``,
  ``output.outputTokenCount``; bodies in ``input.inputBodyJson`` / ``output.outputBodyJson``).
  Sources: https://docs.aws.amazon.com/bedrock/latest/userguide/model-invocation-logging.html
  (the record's fields), a logged record with the cache counts:
  https://github.com/dheerajoruganty/aws-bedrock-logs-mcp-server (setup.md, "Example invocation").
  Bedrock's input count excludes cache reads and writes (Anthropic's usage semantics), so our
  ``input_tokens`` = inputTokenCount + cacheRead + cacheWrite and ``cached_input_tokens`` = cacheRead.
  The log names no gateway route: records load as api ``bedrock``, route ``{unattributed}`` until
  a gateway access log with the same request id gives them one.
* ``kong_ai`` — Kong Gateway file-log / http-log lines carrying the AI Proxy plugin's ``ai`` section:
  ``ai.proxy.usage.prompt_tokens``, ``completion_tokens``, ``total_tokens``, ``cost``,
  ``ai.proxy.meta.provider_name``, ``request_model``, ``response_model``, ``llm_latency``
  (Kong 3.6/3.7 write the same under ``ai.ai-proxy``). The line is also a gateway request (loaded
  like ``kong``), so its tokens belong to its own route. Bodies (``ai.proxy.payload``) are not read.
  Source: https://developer.konghq.com/ai-gateway/ai-audit-log-reference/ (AI Proxy core logs).
* ``openai_usage`` — ours, documented in the README: one record per model call, shaped like the
  OpenAI API's response usage (https://platform.openai.com/docs/api-reference/chat/object):
  ``model``, ``usage.prompt_tokens``, ``usage.completion_tokens``,
  ``usage.prompt_tokens_details.cached_tokens`` (a part of prompt_tokens), ``created`` (epoch s) or
  ``ts`` (ISO), ``request_id`` (the gateway's, for the join) or ``id``, and optionally ``provider``,
  ``api``, ``stage``, ``route``, ``client``, ``region``, ``service_tier`` (``batch`` prices at the
  batch rate) or ``batch`` (true/false). Records without a route load as ``{unattributed}``.
"""

from __future__ import annotations

from typing import Callable

from .base import LogFormat, json_select, register, replace_columns, sql_str, ts_any, ts_epoch_auto, ts_iso
from .detect import json_share
from .kong import _KEYS as _KONG_KEYS

UNATTRIBUTED = "{unattributed}"

# The raw token columns a format's ``tokens`` SELECT produces (all VARCHAR, NULL when not logged).
TOKEN_RAW = ("model", "provider", "operation", "tier", "in_raw", "extra_in_raw", "out_raw", "cached_raw",
             "total_raw", "cost_raw", "llm_latency_raw")


def _path(key: str) -> str:
    return sql_str("$." + ".".join('"' + p.replace('"', '\\"') + '"' for p in key.split(".")))


def _get(*keys: str) -> str:
    """The first non-empty of JSON ``keys`` (dotted paths) of ``line``, as text."""
    vals = [f"nullif(TRY(json_extract_string(line, {_path(k)})), '')" for k in keys]
    return vals[0] if len(vals) == 1 else f"coalesce({', '.join(vals)})"


def token_select(cols: dict[str, str]) -> Callable[[str], str]:
    """A ``tokens`` SELECT: token column -> SQL over ``line`` (missing columns are NULL)."""
    unknown = set(cols) - set(TOKEN_RAW)
    if unknown:
        raise ValueError(f"unknown token columns {sorted(unknown)}; expected some of {TOKEN_RAW}")

    def select(rel: str) -> str:
        out = ", ".join(f"({cols[c]})::VARCHAR AS {c}" if c in cols else f"NULL::VARCHAR AS {c}" for c in TOKEN_RAW)
        return f"SELECT line_no, {out} FROM {rel}"
    return select


# ---- Amazon Bedrock model invocation logs ---------------------------------------------------
_BEDROCK_KEYS = {
    "ts": ("timestamp",),
    "region": ("region",),
    "client": ("identity.arn", "accountId"),
    "request_id": ("requestId",),
}

BEDROCK = register(LogFormat(
    name="bedrock",
    description="Amazon Bedrock model invocation logs (CloudWatch Logs / S3 JSON): tokens per model call",
    select_sql=json_select(_BEDROCK_KEYS, {"api": "bedrock", "api_type": "bedrock", "route": UNATTRIBUTED}),
    detect=lambda lines: json_share(lines, (("schemaType",), ("modelId",), ("requestId",)),
                                    ("operation", "input", "output", "identity")),
    ts_sql=ts_iso,
    api_type="bedrock",
    tokens=token_select({
        "model": _get("modelId"),
        "provider": "'bedrock'",
        "operation": _get("operation"),
        "in_raw": _get("input.inputTokenCount"),
        "extra_in_raw": (f"(coalesce(TRY_CAST({_get('input.cacheReadInputTokenCount')} AS BIGINT), 0) + "
                         f"coalesce(TRY_CAST({_get('input.cacheWriteInputTokenCount')} AS BIGINT), 0))"),
        "cached_raw": _get("input.cacheReadInputTokenCount"),
        "out_raw": _get("output.outputTokenCount"),
    }),
    requests=False,
    examples=(
        '{"schemaType":"ModelInvocationLog","schemaVersion":"1.0","timestamp":"2026-11-20T10:00:01Z",'
        '"accountId":"123456789012","identity":{"arn":"arn:aws:sts::123456789012:assumed-role/chat-api/lambda"},'
        '"region":"us-east-1","requestId":"5f1c2a7e-0b8d-4c3e-9a61-2d7f4e8b9c10","operation":"Converse",'
        '"modelId":"anthropic.claude-3-5-haiku-20241022-v1:0","input":{"inputContentType":"application/json",'
        '"inputTokenCount":812,"cacheReadInputTokenCount":0,"cacheWriteInputTokenCount":0},'
        '"output":{"outputContentType":"application/json","outputTokenCount":164}}',
    ),
))


# ---- Kong AI Proxy ----------------------------------------------------------------------------
def _ai(key: str) -> str:
    return _get(f"ai.proxy.{key}", f"ai.ai-proxy.{key}")


KONG_AI = register(LogFormat(
    name="kong_ai",
    description="Kong Gateway log lines with the AI Proxy plugin's ai section: requests plus tokens per model",
    select_sql=json_select(_KONG_KEYS, {"api_type": "kong"}),
    detect=lambda lines: json_share(lines, (("started_at",), ("latencies",), ("request",), ("response",),
                                            ("ai.proxy", "ai.ai-proxy")), ("service", "route", "client_ip")),
    ts_sql=ts_epoch_auto,
    api_type="kong",
    tokens=token_select({
        "model": f"coalesce({_ai('meta.response_model')}, {_ai('meta.request_model')})",
        "provider": _ai("meta.provider_name"),
        "in_raw": _ai("usage.prompt_tokens"),
        "out_raw": _ai("usage.completion_tokens"),
        "total_raw": _ai("usage.total_tokens"),
        "cost_raw": _ai("usage.cost"),
        "llm_latency_raw": _ai("meta.llm_latency"),
    }),
    examples=(
        '{"request":{"id":"9b1e6f0a2c3d4e5f8a7b6c5d4e3f2a1b","method":"POST","uri":"/v1/chat/completions",'
        '"size":412,"headers":{"host":"ai.example.com"}},"response":{"status":200,"size":1830},'
        '"latencies":{"request":912,"kong":4,"proxy":908},"started_at":1795323601123,"client_ip":"192.0.2.40",'
        '"consumer":{"username":"team-search"},"service":{"name":"ai-gateway"},"route":{"name":"chat"},'
        '"ai":{"proxy":{"usage":{"prompt_tokens":640,"completion_tokens":210,"total_tokens":850,"cost":0.000222},'
        '"meta":{"provider_name":"openai","request_model":"gpt-4o-mini","response_model":"gpt-4o-mini",'
        '"llm_latency":880}}}}',
    ),
))


# ---- OpenAI-style usage records (ours) ----------------------------------------------------------
_OPENAI_KEYS = {
    "ts": ("ts", "timestamp", "created"),
    "api": ("api",),
    "stage": ("stage",),
    "route": ("route",),
    "method": ("method",),
    "path": ("path",),
    "region": ("region",),
    "client": ("client", "user", "api_key_id"),
    "request_id": ("request_id", "id"),
    "status": ("status",),
    "latency_ms": ("latency_ms",),
}

OPENAI_USAGE = register(LogFormat(
    name="openai_usage",
    description="OpenAI-style usage records, one per model call (model, usage.prompt_tokens, completion_tokens)",
    select_sql=replace_columns(
        json_select(_OPENAI_KEYS, {"api_type": "llm"}),
        {"api": "coalesce(api, 'llm')",
         "route": f"CASE WHEN route IS NULL AND path IS NULL THEN {sql_str(UNATTRIBUTED)} ELSE route END"}),
    detect=lambda lines: json_share(lines, (("model",), ("usage.prompt_tokens", "usage.completion_tokens")),
                                    ("created", "id", "request_id"), absent=("schemaType", "started_at")),
    ts_sql=ts_any,
    api_type="llm",
    tokens=token_select({
        "model": _get("model"),
        "provider": f"coalesce({_get('provider')}, 'openai')",
        "operation": _get("object"),
        "tier": (f"CASE WHEN lower({_get('service_tier')}) = 'batch' OR lower({_get('batch')}) = 'true' "
                 "THEN 'batch' END"),
        "in_raw": _get("usage.prompt_tokens", "usage.input_tokens"),
        "cached_raw": _get("usage.prompt_tokens_details.cached_tokens", "usage.input_tokens_details.cached_tokens"),
        "out_raw": _get("usage.completion_tokens", "usage.output_tokens"),
        "total_raw": _get("usage.total_tokens"),
    }),
    requests=False,
    examples=(
        '{"id":"chatcmpl-9x2","object":"chat.completion","created":1795323601,"model":"gpt-4o-mini",'
        '"request_id":"r-0001","api":"assistant","route":"POST /v1/answer","client":"key-analytics",'
        '"usage":{"prompt_tokens":1200,"completion_tokens":300,"total_tokens":1500,'
        '"prompt_tokens_details":{"cached_tokens":1024}}}',
    ),
))

TOKEN_FORMATS = ("bedrock", "kong_ai", "openai_usage")
