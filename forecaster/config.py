"""One typed settings object: defaults < TOML file < FORECASTER_ environment variables < explicit arguments.

Nothing here reads the environment at import time; call :func:`get_settings` (cached) or
build a :class:`Settings` yourself (tests do) and pass it in explicitly.
"""

from __future__ import annotations

import functools
import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from .errors import ConfigError

DEFAULT_CONFIG_FILE = "forecaster.toml"


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

    # ingest
    ingest_chunk_mb: int = Field(128, ge=1, le=2048, description="bytes read per parse chunk, in MB")
    ingest_max_line_kb: int = Field(64, ge=1, description="lines longer than this are rejected")
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
    # carbon (forecaster.carbon)
    grid_intensity_file: Path | None = Field(
        None, description="hourly grid intensity CSV (region, hour or ISO timestamp, g_co2e_per_kwh); wins over the static table"
    )
    carbon_coefficients_file: Path | None = Field(
        None, description="TOML overlay of carbon coefficients (same keys as forecaster/data/carbon/coefficients.toml)"
    )
    carbon_embodied: bool = Field(False, description="add embodied (manufacturing) emissions to carbon figures")

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
    spike_capacity_rps: dict[str, float] = Field(
        default_factory=dict,
        description="known capacity or throttle limit (requests/s) per series id or glob, e.g. 'route:shop|prod|*' or 'region:us-east-1'",
    )

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
