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
    ingest_chunk_mb: int = Field(64, ge=1, le=2048, description="bytes read per parse chunk, in MB")
    ingest_max_line_kb: int = Field(64, ge=1, description="lines longer than this are rejected")
    reject_raw_max_chars: int = Field(2000, ge=16, description="raw text kept per reject")
    retention_raw_days: int | None = Field(
        None, ge=0, description="keep raw requests this many days (None: forever, 0: rollups only)"
    )
    route_map: Path | None = Field(None, description="route-map or OpenAPI file used to template paths")
    custom_formats: dict[str, CustomFormat] = Field(default_factory=dict, description="extra log formats")
    default_region: str = Field("us-east-1", description="region for logs that carry none")
    s3_endpoint_url: str | None = Field(None, description="S3 endpoint override (e.g. MinIO, moto)")
    logs_endpoint_url: str | None = Field(None, description="CloudWatch Logs endpoint override")
    aws_region: str | None = Field(None, description="AWS region for boto3 clients")

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
    """Settings from an explicit TOML file, with keyword overrides on top."""
    data = load_toml(Path(path))
    data.update({k: v for k, v in overrides.items() if v is not None})
    data["config_file"] = Path(path)
    return Settings(**data)


@functools.lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached). Tests build their own Settings instead."""
    return Settings()
