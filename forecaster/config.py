"""One typed settings object: defaults < TOML file < FORECASTER_ environment variables < explicit arguments.

Nothing here reads the environment at import time; call :func:`get_settings` (cached) or
build a :class:`Settings` yourself (tests do) and pass it in explicitly.
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from .errors import ConfigError

DEFAULT_CONFIG_FILE = "forecaster.toml"
#: ``Field(..., json_schema_extra=SECRET)`` marks a setting as a secret (an API key, a signing key):
#: with ``env = "production"`` it must be set to something other than its default (see ``Settings``)
SECRET: dict[str, Any] = {"secret": True}


def is_secret(field: FieldInfo) -> bool:
    return isinstance(field.json_schema_extra, dict) and bool(field.json_schema_extra.get("secret"))


class CustomFormat(BaseModel):
    """A log format declared in the config, without code.

    Either ``regex`` (Python/RE2 syntax with named groups) or ``json_fields`` (our field name ->
    the JSON key in the log line). Field names are those of the ``requests`` table: ts, api,
    api_type, stage, route, method, path, status, latency_ms, integration_latency_ms,
    bytes_out, region, client, request_id.
    """

    regex: str | None = None
    json_fields: dict[str, str] | None = None
    ts_format: str | None = Field(
        None, description="strptime format of ts; None tries ISO 8601, epoch seconds/ms and CLF"
    )
    defaults: dict[str, str] = Field(default_factory=dict, description="constant values, e.g. api")

    @field_validator("regex")
    @classmethod
    def _regex_compiles(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as e:
                raise ValueError(f"regex does not compile: {e}") from e
        return v


class AwsSettings(BaseModel):
    """Where the control plane's AWS clients go; credentials come from boto3's standard chain."""

    model_config = {"extra": "forbid"}

    region: str | None = Field(None, description="AWS region of the control-plane clients (None: boto3's)")
    endpoint_url: str | None = Field(None, description="endpoint override for every control-plane client (emulator, VPC endpoint)")
    max_attempts: int = Field(4, ge=1, le=10, description="attempts per call on throttling, 5xx and timeouts")
    retry_base_s: float = Field(0.5, ge=0, le=30, description="first retry delay; doubles each attempt")
    timeout_s: float = Field(10.0, gt=0, le=300, description="connect and read timeout per call")


_TARGET_KINDS = ("apigw_rest_stage", "apigw_usage_plan", "apigw_http_stage", "lambda_provisioned_concurrency",
                 "route53_weights", "webhook")
# Fields each target kind needs (besides kind); the adapters read them, config refuses a target lacking one.
TARGET_REQUIRED: dict[str, tuple[str, ...]] = {
    "apigw_rest_stage": ("api", "rest_api_id", "stage"),
    "apigw_usage_plan": ("api", "usage_plan_id"),
    "apigw_http_stage": ("api", "api_id", "stage"),
    "lambda_provisioned_concurrency": ("api", "route", "function", "qualifier"),
    "route53_weights": ("api", "zone_id", "record", "set_ids"),
    "webhook": ("url", "secret_env"),
}


class Target(BaseModel):
    """One ``[[targets]]`` entry: the cloud resource that serves an api (stage, route) of the logs."""

    model_config = {"extra": "forbid"}

    kind: str = Field(description="adapter name: " + ", ".join(_TARGET_KINDS))
    api: str | None = Field(None, description="the api as named in the logs (webhook: None serves every api)")
    stage: str | None = Field(None, description="stage (REST / HTTP API; lambda: optional filter)")
    route: str | None = Field(None, description="'METHOD /path' (lambda target)")
    region: str | None = Field(None, description="AWS region of the resource (default aws.region); lambda: also the "
                                                 "pre-warm recommendations' region it serves")
    rest_api_id: str | None = None
    usage_plan_id: str | None = None
    api_id: str | None = None
    function: str | None = None
    qualifier: str | None = None
    zone_id: str | None = None
    record: str | None = None
    set_ids: dict[str, str] | None = Field(None, description="region -> SetIdentifier of the weighted record")
    url: str | None = None
    secret_env: str | None = Field(None, description="environment variable holding the webhook's HMAC secret")
    kinds: list[str] | None = Field(None, description="webhook: recommendation kinds sent (None: all)")
    timeout_s: float | None = Field(None, gt=0, description="webhook: per-request timeout (default aws.timeout_s)")
    auto_apply: bool = Field(False, description="the scheduler applies changes to this target for real (otherwise dry-run)")

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, v: str) -> str:
        if v not in _TARGET_KINDS:
            raise ValueError(f"unknown target kind {v!r}; known: {', '.join(sorted(_TARGET_KINDS))}")
        return v

    def model_post_init(self, __context: Any) -> None:
        missing = [f for f in TARGET_REQUIRED[self.kind] if getattr(self, f) in (None, "", {})]
        if missing:
            raise ValueError(f"target of kind {self.kind} needs {', '.join(missing)}")
        if self.url is not None and "@" in self.url.split("://", 1)[-1].split("/", 1)[0]:
            # the URL is recorded in the audit log: credentials in it would be written there
            raise ValueError("webhook url must not carry credentials (user:password@); the HMAC secret goes in secret_env")


class Settings(BaseSettings):
    """Every setting of forecaster. Each is documented in the README (a test checks)."""

    model_config = SettingsConfigDict(env_prefix="FORECASTER_", env_nested_delimiter="__", extra="forbid")

    env: Literal["development", "production"] = Field(
        "development", description="production refuses default secrets"
    )
    db: Path = Field(Path("forecaster.duckdb"), description="DuckDB file holding everything")
    config_file: Path | None = Field(None, description="TOML file read for settings")
    duckdb_threads: int | None = Field(None, description="DuckDB worker threads (default: all cores)")
    duckdb_memory_limit: str | None = Field(None, description="DuckDB memory limit, e.g. '4GB'")
    db_lock_timeout_s: float = Field(
        10.0, ge=0, description="seconds to wait for another process to release the DuckDB file before giving up"
    )

    # ingest
    ingest_chunk_mb: int = Field(128, ge=1, le=2048, description="bytes read per parse chunk, in MB")
    ingest_max_line_kb: int = Field(64, ge=1, description="lines longer than this are rejected")
    ingest_batch_files: int = Field(
        1000, ge=0, description="small sources loaded together in one transaction (0 or 1: each in its own)"
    )
    ingest_batch_kb: int = Field(
        1024, ge=1, description="a source of at most this many KB (and a quarter of ingest_chunk_mb) is a small one"
    )
    reject_raw_max_chars: int = Field(2000, ge=16, description="raw text kept per reject")
    retention_raw_days: int | None = Field(
        None, ge=0, description="keep raw requests this many days (None: forever, 0: rollups only)"
    )
    ingest_ts_window_days: int = Field(
        36600, ge=1, description="timestamps older than this many days, or later than a day after now, are rejected"
    )
    ingest_ts_future_days: float = Field(
        1.0, ge=0, description="rows dated more than this many days after now are rejected (the window's end)"
    )
    ingest_tail_wait_s: float = Field(
        86400, ge=0, description="an unfinished last line of a file modified less than this many seconds ago waits for the next load (0: load it as is)"
    )
    route_map: Path | None = Field(None, description="route-map or OpenAPI file used to template paths")
    route_mining: bool = Field(
        True, description="group paths no route map or logged template covers by templates mined from the traffic"
    )
    route_param_min_values: int = Field(
        10, ge=2, description="distinct values under one prefix that make a path segment (not the first) a parameter"
    )
    route_min_requests: int = Field(
        2, ge=1, description="when an API has more mined routes than route_max_per_api, those with fewer requests go to '{other}' first"
    )
    route_max_per_api: int = Field(
        50, ge=1, description="mined routes kept per API (the busiest; the rest go to '{other}')"
    )
    custom_formats: dict[str, CustomFormat] = Field(default_factory=dict, description="extra log formats")
    default_region: str = Field("us-east-1", description="region for logs that carry none")
    s3_endpoint_url: str | None = Field(None, description="S3 endpoint override (e.g. MinIO, moto)")
    logs_endpoint_url: str | None = Field(None, description="CloudWatch Logs endpoint override")
    aws_region: str | None = Field(None, description="AWS region for boto3 clients")

    # pricing (forecaster.pricing)
    price_catalog: Path | None = Field(
        None, description="price catalog TOML (default: the newest forecaster/data/prices/aws-<date>.toml)"
    )
    price_overrides_file: Path | None = Field(
        None, description="TOML overlay of [[price]] rows and [discounts] (enterprise discounts, other gateways)"
    )
    free_tier: bool = Field(False, description="apply the AWS 12-month free tier (API Gateway, Lambda) per month")
    lambda_integration_default: Literal["lambda", "none"] = Field(
        "lambda", description="integration of rest/http/websocket routes with integration latency: lambda or none"
    )
    lambda_integration_by_route: dict[str, Literal["lambda", "none"]] = Field(
        default_factory=dict, description="integration per 'api', 'api|route' or 'api|stage|route' (most specific wins)"
    )
    lambda_memory_mb: int = Field(128, ge=128, le=10240, description="Lambda memory size (MB) when not set per route")
    lambda_memory_by_route: dict[str, int] = Field(
        default_factory=dict, description="Lambda memory (MB) per 'api', 'api|route' or 'api|stage|route'"
    )
    lambda_arch: Literal["x86_64", "arm64"] = Field("x86_64", description="Lambda architecture when not set per route")
    lambda_arch_by_route: dict[str, Literal["x86_64", "arm64"]] = Field(
        default_factory=dict, description="Lambda architecture per 'api', 'api|route' or 'api|stage|route'"
    )
    lambda_provisioned_by_route: dict[str, int] = Field(
        default_factory=dict, description="provisioned concurrency kept enabled per 'api|stage|route' (or 'api')"
    )
    api_cache_gb_by_stage: dict[str, float] = Field(
        default_factory=dict, description="API Gateway cache size (GB, e.g. 0.5, 6.1) per 'api|stage'"
    )
    budgets: dict[str, float] = Field(
        default_factory=dict, description="monthly budget in USD per '*' (account), 'api' or 'api|stage|route'"
    )
    model_price_catalog: Path | None = Field(
        None, description="model (LLM) price catalog TOML (default: the newest forecaster/data/model_prices/models-<date>.toml)"
    )
    model_budgets: dict[str, float] = Field(
        default_factory=dict,
        description="monthly model (token) spend budget in USD per '*', 'api', 'api|stage|route', 'model:<id>', "
                    "'provider:<name>' or 'client:<client>'",
    )
    # carbon (forecaster.carbon)
    grid_intensity_file: Path | None = Field(
        None, description="hourly grid intensity CSV (region, hour or ISO timestamp, g_co2e_per_kwh); wins over the static table"
    )
    carbon_coefficients_file: Path | None = Field(
        None, description="TOML overlay of carbon coefficients (same keys as forecaster/data/carbon/coefficients.toml)"
    )
    carbon_model_energy_file: Path | None = Field(
        None, description="TOML of energy per 1k model tokens per tier, replacing forecaster/data/carbon/model_energy.toml"
    )
    carbon_embodied: bool = Field(False, description="add embodied (manufacturing) emissions to carbon figures")

    # control plane (forecaster.control)
    aws: AwsSettings = Field(default_factory=AwsSettings, description="control-plane AWS clients: region, endpoint_url, retries")
    targets: list[Target] = Field(default_factory=list, description="[[targets]]: which cloud resource serves which api")

    # forecasting (forecaster.forecast, series, events, spikes)
    forecast_horizon: str = Field("72h", description="how far ahead forecasts reach (a duration: 72h, 3d)")
    forecast_step: Literal["5m", "15m", "1h"] = Field("1h", description="bucket width of the forecast series")
    forecast_model: str = Field("auto", description="model name, or auto (backtest and pick per series)")
    forecast_preset: str = Field("fast", description="model selection preset of auto: fast or full")
    forecast_folds: int | None = Field(None, ge=1, le=20, description="rolling-origin backtest folds per series (None: the preset's, fast 2 / full 3)")
    forecast_seed: int = Field(0, description="seed of every model, so runs repeat exactly")
    forecast_history_days: float | None = Field(
        56, gt=0, description="history read per series before the as-of point, in days (None: all)"
    )
    forecast_engine: Literal["local", "dask"] = Field("local", description="where series are fitted: local processes or Dask")
    forecast_workers: int | None = Field(None, ge=1, description="parallel fits (local processes / LocalCluster workers); default: cores")
    forecast_timeout_s: float = Field(
        120.0, gt=0, description="seconds one series may take before it falls back to seasonal naive"
    )
    dask_scheduler: str | None = Field(None, description="Dask scheduler address (tcp://host:8786); None starts a LocalCluster")
    events_file: Path | None = Field(None, description="events calendar (CSV or YAML) used as regressors and to name spikes")
    holiday_country: str | None = Field("US", description="ISO country code whose public holidays are regressors (None: off)")
    spike_min_ratio: float = Field(1.5, gt=1, description="a forecast step above this multiple of its baseline is a spike")
    spike_min_peak: float = Field(
        5.0, ge=0, description="requests per step a spike's forecast must reach (ignores noise on near-idle routes)"
    )
    spike_min_excess: float = Field(
        30.0, ge=0, description="requests per step a spike must rise above the route's expected traffic (a quiet route's small burst is not a spike)"
    )
    spike_min_probability: float = Field(
        0.8, ge=0, le=1, description="a spike no calendar event or capacity limit explains is reported only when its probability, calibrated on the model's backtest spikes, reaches this"
    )
    forecast_max_horizon: str = Field("14d", description="the longest --horizon accepted (a duration: 14d, 336h)")
    spike_capacity_rps: dict[str, float] = Field(
        default_factory=dict,
        description="known capacity or throttle limit (requests/s) per series id or glob, e.g. 'route:shop|prod|*' or 'region:us-east-1'",
    )

    # decisions (forecaster.decide): throttle, prewarm, route, cache, websocket; guardrails
    decide_window_minutes: int = Field(60, ge=5, le=1440, description="validity window of each recommendation, in minutes")
    decide_band: Literal["80", "95"] = Field("95", description="forecast upper band (80 or 95 %) throttle limits are sized from")
    decide_headroom: float = Field(1.2, ge=1.0, le=10.0, description="throttle limit = forecast upper band peak rps x this")
    decide_burst_factor: float = Field(2.0, gt=0, le=100.0, description="burst limit = rate limit x this (requests)")
    decide_counts_peak_factor: float = Field(
        3.0, ge=1.0, le=3600.0, description="busiest-second / hourly-mean rps assumed where logs give counts only (flagged)"
    )
    decide_floor_lookback_hours: float = Field(1.0, gt=0, le=24 * 90, description="guardrail: look back this far for the observed peak")
    decide_floor_margin: float = Field(1.2, gt=0, le=10.0, description="guardrail: a limit is never below the observed peak x this")
    decide_max_step_factor: float = Field(4.0, gt=1.0, le=1000.0, description="guardrail: a limit changes at most x this per window")
    decide_account_rps_limit: float = Field(10000.0, gt=0, description="guardrail: AWS account throttle rate limit per region (rps)")
    decide_account_burst_limit: int = Field(5000, gt=0, description="guardrail: AWS account burst limit per region (requests)")
    decide_min_rps_by_target: dict[str, float] = Field(
        default_factory=dict, description="guardrail: lowest rate limit per target or glob ('shop|prod|*')"
    )
    decide_max_rps_by_target: dict[str, float] = Field(
        default_factory=dict, description="guardrail: highest rate limit per target or glob (what the backend can take)"
    )
    decide_max_rel_mae: float = Field(1.0, gt=0, description="a route whose backtest relMAE is at least this gets status forecast_only")
    decide_max_coverage_gap: float = Field(
        0.3, gt=0, le=1.0, description="a route whose 80% coverage is further than this from 0.8 gets status forecast_only"
    )
    decide_prewarm_lead_minutes: int = Field(15, ge=0, le=24 * 60, description="provisioned concurrency starts this long before a spike")
    decide_prewarm_tail_minutes: int = Field(30, ge=0, le=24 * 60, description="and ends this long after it")
    decide_lambda_duration_ms: float = Field(
        100.0, gt=0, le=900000, description="Lambda p95 duration (ms) assumed for pre-warming where no latency is logged"
    )
    decide_cold_start_ms: float = Field(400.0, ge=0, description="latency of one Lambda cold start (ms), to price cold starts avoided")
    decide_route_latency_budget_ms: float = Field(
        80.0, ge=0, description="extra latency (ms) a route may take when its traffic moves to another region"
    )
    decide_route_regions: dict[str, list[str]] = Field(
        default_factory=dict, description="regions each api may be served from, per api or glob (route weights); default: the regions it logs"
    )
    decide_route_capacity_rps: dict[str, float] = Field(
        default_factory=dict, description="capacity (rps) per region or 'api|region', capping the traffic route weights send there"
    )
    decide_route_min_g_co2e: float = Field(
        100.0, ge=0, description="route weights are proposed only when they save at least this many gCO2e over the horizon "
                                 "(or decide_route_min_usd)")
    decide_route_min_usd: float = Field(
        1.0, ge=0, description="route weights are proposed only when they save at least this many dollars over the horizon "
                               "(or decide_route_min_g_co2e)")
    decide_cache_ttl_s: int = Field(300, ge=1, le=3600, description="stage cache TTL the cache policy evaluates (s)")
    decide_cache_min_hit_ratio: float = Field(0.2, ge=0, le=1, description="cache advice only where the hit ratio would reach this")
    decide_token_budgets: dict[str, float] = Field(
        default_factory=dict, description="monthly token budget (input + output tokens) per 'api' or 'api|client': the "
                                          "api's usage-plan quota_per_day = budget / days in the month / tokens per request"
    )
    decide_model_route_share: float = Field(
        0.5, gt=0, le=1, description="share of a route's model calls the model-routing what-if moves to a cheaper model or region"
    )
    decide_model_route_min_usd_month: float = Field(
        10.0, ge=0, description="a model-routing recommendation only when it saves at least this many dollars a month"
    )
    decide_model_route_min_g_co2e_month: float = Field(
        1000.0, ge=0, description="... or at least this many gCO2e a month (a greener region at the same price)"
    )
    decide_prompt_cache_ttl_s: int = Field(
        3600, ge=1, le=3600, description="model-response cache TTL the prompt-cache advice evaluates (s): a repeat counts within it"
    )
    decide_ws_idle_quantile: float = Field(0.95, gt=0.5, lt=1.0, description="WebSocket idle timeout = this quantile of message gaps")

    # the service (forecaster.pipeline, pipelines/, forecaster.api)
    as_of: dt.datetime | None = Field(
        None, description="the service's 'now' (naive UTC) for pipeline runs and the API's default valid_at; None: the clock"
    )
    schedule_ingest_sources: list[str] = Field(
        default_factory=list, description="sources the scheduler ingests every schedule_ingest_every (paths, globs, s3://, cwlogs://)"
    )
    schedule_ingest_every: str = Field("5m", description="interval of the scheduled ingest job (a duration: 30s, 5m, 1h)")
    schedule_forecast_every: str = Field(
        "1h", description="interval of the scheduled forecast job (forecast, price, carbon, decide, plan, apply)"
    )
    schedule_retries: int = Field(3, ge=0, le=20, description="retries of a failing scheduled job before it waits for its next turn")
    schedule_nice: int = Field(
        10, ge=0, le=19, description="CPU nice value of scheduled jobs and their forecast workers (0: same as the API)"
    )
    schedule_backoff_s: float = Field(30.0, ge=0, description="first retry delay of a failing job (doubles each retry)")
    shutdown_timeout_s: float = Field(
        30.0, ge=0, description="seconds a run in flight may take to finish at shutdown before it is marked interrupted"
    )
    api_upload_max_mb: float = Field(256.0, gt=0, description="largest log file POST /v1/ingest accepts (MB)")
    api_page_max: int = Field(1000, ge=1, description="most rows one page of a paginated API response holds")
    upload_dir: Path | None = Field(None, description="where uploaded log files are kept (default: uploads/ beside the db)")
    @model_validator(mode="after")
    def _no_default_secrets_in_production(self) -> Settings:
        """In production every secret setting must be set, and not to its default (collected, raised once)."""
        if self.env != "production":
            return self
        weak = [name for name, field in type(self).model_fields.items()
                if is_secret(field) and getattr(self, name) in (field.default, None, "", {}, [])]
        if weak:
            raise ConfigError(f"env = production refuses default or empty secrets; set {', '.join(weak)} "
                              f"(e.g. FORECASTER_{weak[0].upper()})")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _TomlSource(settings_cls))


class _TomlSource(PydanticBaseSettingsSource):
    """Reads FORECASTER_CONFIG_FILE (or ./forecaster.toml if present); the ``[forecaster]`` table or top level."""

    def get_field_value(self, field, field_name):  # pragma: no cover - unused by pydantic for this source
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = os.environ.get("FORECASTER_CONFIG_FILE")
        p = Path(path) if path else Path(DEFAULT_CONFIG_FILE)
        if not p.exists():
            if path:
                raise ConfigError(f"config file {p} does not exist (from FORECASTER_CONFIG_FILE)")
            return {}
        return load_toml(p)


def load_toml(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"cannot read config file {path}: {e}") from e
    return data.get("forecaster", data)


def settings_from_file(path: Path | str, **overrides: Any) -> Settings:
    """Settings from an explicit TOML file: defaults < the file < FORECASTER_* variables < keyword overrides."""
    from pydantic_settings import EnvSettingsSource

    data = load_toml(Path(path))
    data.update(EnvSettingsSource(Settings)())   # FORECASTER_* variables beat the file, as documented
    data.update({k: v for k, v in overrides.items() if v is not None})
    data["config_file"] = Path(path)
    return Settings(**data)


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached). Tests build their own Settings instead."""
    return Settings()
