"""All DDL in one place. Each table names its owner module.

These statements are the version-1 baseline; later changes are steps in ``store.migrations``.

Timestamps are naive ``TIMESTAMP`` values in UTC throughout (documented, and converted at the
edges), so no query depends on the session time zone.
"""

from __future__ import annotations

TABLES: dict[str, str] = {
    # owner: store (migrations)
    "schema_version": """
        CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied_at TIMESTAMP NOT NULL)
    """,
    # owner: ingest.loader
    "sources": """
        CREATE TABLE IF NOT EXISTS sources (
            source_id     BIGINT PRIMARY KEY,
            uri           VARCHAR NOT NULL,
            size_bytes    BIGINT,
            mtime         DOUBLE,
            checksum      VARCHAR,          -- sha256 of the bytes as read (decompressed stream for .gz)
            etag          VARCHAR,          -- S3 objects
            cursor        VARCHAR,          -- CloudWatch Logs: last event time (ms) + stream
            format        VARCHAR,
            rows_loaded   BIGINT NOT NULL DEFAULT 0,
            rows_rejected BIGINT NOT NULL DEFAULT 0,
            rows_duplicate BIGINT NOT NULL DEFAULT 0,
            lines_blank   BIGINT NOT NULL DEFAULT 0,
            requests_counted BIGINT NOT NULL DEFAULT 0, -- counts format: requests added to rollups
            loaded_at     TIMESTAMP NOT NULL,
            seconds       DOUBLE
        )
    """,
    # owner: ingest.loader
    "requests": """
        CREATE TABLE IF NOT EXISTS requests (
            ts                     TIMESTAMP NOT NULL,
            api                    VARCHAR NOT NULL,
            api_type               VARCHAR NOT NULL,   -- rest | http | websocket | web | alb | kong | envoy
            stage                  VARCHAR NOT NULL,
            route                  VARCHAR NOT NULL,   -- method + path template, e.g. 'GET /pets/{id}'
            method                 VARCHAR,
            status                 SMALLINT,
            latency_ms             DOUBLE,
            integration_latency_ms DOUBLE,
            bytes_out              BIGINT,
            region                 VARCHAR NOT NULL,
            client                 VARCHAR,
            request_id             VARCHAR NOT NULL,   -- the dedupe key
            source_id              BIGINT NOT NULL,
            line_no                BIGINT NOT NULL
        )
    """,
    # owner: ingest.loader
    "rejects": """
        CREATE TABLE IF NOT EXISTS rejects (
            source_id BIGINT NOT NULL,
            line_no   BIGINT NOT NULL,
            raw       VARCHAR,         -- truncated; non-UTF-8 bytes shown as \\xNN
            reason    VARCHAR NOT NULL
        )
    """,
    # owner: ingest.rollups. Per route and minute; later stages read this, not requests.
    "traffic_1m": """
        CREATE TABLE IF NOT EXISTS traffic_1m (
            ts                 TIMESTAMP NOT NULL,   -- minute bucket start, UTC
            api                VARCHAR NOT NULL,
            stage              VARCHAR NOT NULL,
            route              VARCHAR NOT NULL,
            region             VARCHAR NOT NULL,
            api_type           VARCHAR NOT NULL,
            requests           BIGINT NOT NULL,
            status_4xx         BIGINT NOT NULL,
            status_5xx         BIGINT NOT NULL,
            bytes_out          BIGINT NOT NULL,
            latency_n          BIGINT NOT NULL,      -- requests that carried a latency
            latency_ms_sum     DOUBLE NOT NULL,
            latency_p50_ms     DOUBLE,
            latency_p95_ms     DOUBLE,
            latency_p99_ms     DOUBLE,
            integration_n      BIGINT NOT NULL,
            integration_ms_sum DOUBLE NOT NULL,
            billed_ms_sum      DOUBLE NOT NULL,      -- sum of ceil(integration latency): Lambda bills per 1 ms
            PRIMARY KEY (api, stage, route, region, ts)
        )
    """,
    # owner: store.runs
    "runs": """
        CREATE TABLE IF NOT EXISTS runs (
            run_id    VARCHAR PRIMARY KEY,
            kind      VARCHAR NOT NULL,
            params    JSON,
            started   TIMESTAMP NOT NULL,
            finished  TIMESTAMP,
            status    VARCHAR NOT NULL,   -- running | ok | failed
            error     VARCHAR,
            summary   JSON
        )
    """,
    # owner: forecast
    "forecasts": """
        CREATE TABLE IF NOT EXISTS forecasts (
            run_id VARCHAR NOT NULL, series VARCHAR NOT NULL, ds TIMESTAMP NOT NULL, model VARCHAR NOT NULL,
            yhat DOUBLE, yhat_lo_80 DOUBLE, yhat_hi_80 DOUBLE, yhat_lo_95 DOUBLE, yhat_hi_95 DOUBLE
        )
    """,
    # owner: backtest
    "backtests": """
        CREATE TABLE IF NOT EXISTS backtests (
            run_id VARCHAR NOT NULL, series VARCHAR NOT NULL, model VARCHAR NOT NULL, cutoff TIMESTAMP,
            horizon INTEGER, mae DOUBLE, rel_mae DOUBLE, mase DOUBLE, smape DOUBLE,
            coverage_80 DOUBLE, coverage_95 DOUBLE, chosen BOOLEAN, note VARCHAR
        )
    """,
    # owner: spikes
    "spikes": """
        CREATE TABLE IF NOT EXISTS spikes (
            run_id VARCHAR NOT NULL, series VARCHAR NOT NULL, start_ts TIMESTAMP, end_ts TIMESTAMP,
            peak_ts TIMESTAMP, peak DOUBLE, baseline DOUBLE, ratio DOUBLE, threshold DOUBLE,
            probability DOUBLE, lead_time_hours DOUBLE, reason VARCHAR, event VARCHAR
        )
    """,
    # owner: pricing
    "costs": """
        CREATE TABLE IF NOT EXISTS costs (
            run_id VARCHAR, kind VARCHAR NOT NULL, ts TIMESTAMP NOT NULL, api VARCHAR, stage VARCHAR,
            route VARCHAR, region VARCHAR, component VARCHAR NOT NULL, quantity DOUBLE, unit VARCHAR,
            usd DOUBLE NOT NULL, flags VARCHAR,
            usd_micros BIGINT,        -- exact integer micro-dollars (usd is usd_micros / 1e6)
            price_key VARCHAR,        -- catalog row priced, e.g. apigw_rest.requests
            catalog VARCHAR           -- catalog name and date the price came from
        )
    """,
    # owner: carbon
    "carbon": """
        CREATE TABLE IF NOT EXISTS carbon (
            run_id VARCHAR, kind VARCHAR NOT NULL, ts TIMESTAMP NOT NULL, api VARCHAR, stage VARCHAR,
            route VARCHAR, region VARCHAR, component VARCHAR NOT NULL, kwh DOUBLE,
            g_co2e DOUBLE NOT NULL, flags VARCHAR,
            requests DOUBLE,          -- requests in the bucket (the SCI functional unit R)
            g_co2e_per_kwh DOUBLE     -- grid intensity applied (0 for embodied rows)
        )
    """,
    # owner: decisions
    "recommendations": """
        CREATE TABLE IF NOT EXISTS recommendations (
            id VARCHAR PRIMARY KEY, run_id VARCHAR, kind VARCHAR NOT NULL, target VARCHAR NOT NULL,
            params JSON, valid_from TIMESTAMP, valid_to TIMESTAMP, rationale VARCHAR,
            expected_impact JSON, status VARCHAR NOT NULL
        )
    """,
    # owner: control
    "actions": """
        CREATE TABLE IF NOT EXISTS actions (
            id VARCHAR PRIMARY KEY, recommendation_id VARCHAR, adapter VARCHAR NOT NULL, before_state JSON,
            request JSON, after_state JSON, dry_run BOOLEAN NOT NULL, outcome VARCHAR, error VARCHAR,
            at_ts TIMESTAMP NOT NULL, actor VARCHAR
        )
    """,
}

VIEWS: dict[str, str] = {
    # Hourly rollup derived from traffic_1m; percentiles are request-weighted means of the minutes'.
    "traffic_1h": """
        CREATE OR REPLACE VIEW traffic_1h AS
        SELECT date_trunc('hour', ts) AS ts, api, stage, route, region, any_value(api_type) AS api_type,
               sum(requests)::BIGINT AS requests, sum(status_4xx)::BIGINT AS status_4xx,
               sum(status_5xx)::BIGINT AS status_5xx, sum(bytes_out)::BIGINT AS bytes_out,
               sum(latency_n)::BIGINT AS latency_n, sum(latency_ms_sum) AS latency_ms_sum,
               sum(latency_p50_ms * latency_n) / nullif(sum(latency_n), 0) AS latency_p50_ms,
               sum(latency_p95_ms * latency_n) / nullif(sum(latency_n), 0) AS latency_p95_ms,
               max(latency_p99_ms) AS latency_p99_ms,
               sum(integration_n)::BIGINT AS integration_n, sum(integration_ms_sum) AS integration_ms_sum,
               sum(billed_ms_sum) AS billed_ms_sum
        FROM traffic_1m GROUP BY ALL
    """,
}

INDEXES: list[str] = [
    "CREATE INDEX IF NOT EXISTS sources_checksum ON sources(checksum)",
]
