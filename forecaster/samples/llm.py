"""Sample model-call logs for an AI API: Kong AI Proxy lines and Bedrock invocation logs (seeded).

* ``kong_ai.log`` — the ``assistant`` service behind Kong's AI Proxy: ``POST /v1/chat/completions``
  on OpenAI gpt-4o-mini and ``POST /v1/summarize`` on Bedrock Claude 3.5 Haiku, for the consumers
  ``team-search`` and ``team-support``, plus a nightly batch job of ``batch-etl`` that summarises
  long documents (tens of thousands of prompt tokens a call) — on Friday night it runs three times
  its usual size: the token spike of the week.
* ``bedrock.log`` — Bedrock model invocation logs of a ``support-bot`` Lambda calling Claude 3.5
  Sonnet (through the ``us.`` cross-region inference profile), Nova Lite and a little of Mistral
  Large, which the shipped price catalog does not price: the demo shows it flagged, not zero.

Deterministic: the same arguments give the same bytes. No prompt or response body is written.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np

KONG_FILE, BEDROCK_FILE = "kong_ai.log", "bedrock.log"

# route -> (provider, model, mean prompt tokens, mean completion tokens, calls per hour at the daily peak)
_KONG_ROUTES = {
    "/v1/chat/completions": ("openai", "gpt-4o-mini", 900, 260, 0.55),
    "/v1/summarize": ("bedrock", "anthropic.claude-3-5-haiku-20241022-v1:0", 2400, 380, 0.3),
}
_CONSUMERS = ("team-search", "team-support")
_BATCH = ("batch-etl", 2, 3, 36_000, 900)   # consumer, hour (UTC), calls a night, prompt and completion tokens
_BEDROCK_MODELS = (   # model id, region, share, mean prompt, mean completion
    ("us.anthropic.claude-3-5-sonnet-20241022-v2:0", "us-east-1", 0.55, 1800, 420),
    ("amazon.nova-lite-v1:0", "us-east-1", 0.35, 600, 150),
    ("mistral.mistral-large-2407-v1:0", "eu-west-1", 0.10, 1200, 300),
)


def _diurnal(hour: int) -> float:
    """0.15 at night .. 1.0 in the afternoon (UTC)."""
    return 0.15 + 0.85 * max(0.0, np.sin(np.pi * (hour - 7) / 14)) if 7 <= hour <= 21 else 0.15


def _tokens(rng: np.random.Generator, mean: int) -> int:
    return max(1, int(rng.lognormal(np.log(mean) - 0.18, 0.6)))


def kong_lines(start: dt.datetime, hours: int, rng: np.random.Generator) -> list[tuple[int, str]]:
    out = []
    for h in range(hours):
        t0 = start + dt.timedelta(hours=h)
        calls = []
        for path, (prov, model, p_in, p_out, peak) in _KONG_ROUTES.items():
            for _ in range(rng.poisson(peak * _diurnal(t0.hour))):
                calls.append((path, prov, model, _tokens(rng, p_in), _tokens(rng, p_out),
                              _CONSUMERS[int(rng.integers(len(_CONSUMERS)))]))
        if t0.hour == _BATCH[1]:
            n = _BATCH[2] * (3 if t0.weekday() == 4 else 1)   # Friday's run is three times the usual
            for _ in range(n):
                calls.append(("/v1/summarize", *_KONG_ROUTES["/v1/summarize"][:2],
                              _tokens(rng, _BATCH[3]), _tokens(rng, _BATCH[4]), _BATCH[0]))
        for path, prov, model, n_in, n_out, who in calls:
            ms = int(t0.timestamp() * 1000) + int(rng.integers(3_600_000))
            llm_ms = int(200 + n_out * rng.uniform(8, 14))
            rec = {"request": {"id": rng.bytes(16).hex(), "method": "POST", "uri": path, "size": 200 + n_in * 4},
                   "response": {"status": 200, "size": 300 + n_out * 4},
                   "latencies": {"request": llm_ms + 6, "kong": 2, "proxy": llm_ms + 4}, "started_at": ms,
                   "client_ip": "192.0.2." + str(40 + _CONSUMERS.index(who) if who in _CONSUMERS else 60),
                   "consumer": {"username": who}, "service": {"name": "assistant"},
                   "ai": {"proxy": {"usage": {"prompt_tokens": n_in, "completion_tokens": n_out,
                                              "total_tokens": n_in + n_out},
                                    "meta": {"provider_name": prov, "request_model": model, "response_model": model,
                                             "llm_latency": llm_ms}}}}
            out.append((ms, json.dumps(rec, separators=(",", ":"))))
    return out


def bedrock_lines(start: dt.datetime, hours: int, rng: np.random.Generator, per_hour: float = 0.4
                  ) -> list[tuple[int, str]]:
    out = []
    shares = np.array([m[2] for m in _BEDROCK_MODELS])
    for h in range(hours):
        t0 = start + dt.timedelta(hours=h)
        for _ in range(rng.poisson(per_hour * _diurnal(t0.hour) * 2)):
            model, region, _, p_in, p_out = _BEDROCK_MODELS[int(rng.choice(len(shares), p=shares / shares.sum()))]
            ts = t0 + dt.timedelta(seconds=int(rng.integers(3600)))
            n_in, n_out = _tokens(rng, p_in), _tokens(rng, p_out)
            cached = int(n_in * 0.5) if model.startswith("us.anthropic") and rng.random() < 0.5 else 0
            rid = rng.bytes(16).hex()
            rec = {"schemaType": "ModelInvocationLog", "schemaVersion": "1.0", "timestamp": f"{ts:%Y-%m-%dT%H:%M:%SZ}",
                   "accountId": "123456789012",
                   "identity": {"arn": "arn:aws:sts::123456789012:assumed-role/support-bot/lambda"},
                   "region": region, "requestId": f"{rid[:8]}-{rid[8:12]}-{rid[12:16]}-{rid[16:20]}-{rid[20:]}",
                   "operation": "Converse", "modelId": model,
                   "input": {"inputContentType": "application/json", "inputTokenCount": n_in - cached,
                             "cacheReadInputTokenCount": cached, "cacheWriteInputTokenCount": 0},
                   "output": {"outputContentType": "application/json", "outputTokenCount": n_out}}
            out.append((int(ts.timestamp() * 1000), json.dumps(rec, separators=(",", ":"))))
    return out


def write_llm_samples(out: Path, start: str = "2026-11-16", days: float = 9.0, seed: int = 0) -> dict[str, int]:
    """Write ``kong_ai.log`` and ``bedrock.log`` (lines in time order) into ``out``; returns lines per file."""
    t0 = dt.datetime.fromisoformat(start).replace(tzinfo=dt.timezone.utc)
    hours = int(round(days * 24))
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, lines in ((KONG_FILE, kong_lines(t0, hours, rng)), (BEDROCK_FILE, bedrock_lines(t0, hours, rng))):
        lines.sort(key=lambda x: x[0])
        (out / name).write_text("".join(s + "\n" for _, s in lines), encoding="utf-8")
        written[name] = len(lines)
    return written
