"""Settings: every one documented, the precedence order, and clear errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from forecaster.config import Settings, settings_from_file
from forecaster.errors import ConfigError

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_every_setting_is_documented_in_the_readme():
    documented = set(re.findall(r"^\| `([a-z_0-9]+)` \|", README, flags=re.M))
    missing = sorted(set(Settings.model_fields) - documented)
    assert not missing, f"settings missing from the README's configuration table: {missing}"


def test_every_setting_has_a_description():
    assert [n for n, f in Settings.model_fields.items() if not f.description] == []


def test_toml_env_and_explicit_precedence(tmp_path, monkeypatch):
    cfg = tmp_path / "f.toml"
    cfg.write_text('[forecaster]\ndb = "from_file.duckdb"\ningest_chunk_mb = 8\n')
    monkeypatch.setenv("FORECASTER_CONFIG_FILE", str(cfg))
    assert Settings().db == Path("from_file.duckdb")
    monkeypatch.setenv("FORECASTER_DB", "from_env.duckdb")
    s = Settings()
    assert s.db == Path("from_env.duckdb") and s.ingest_chunk_mb == 8
    assert Settings(db="explicit.duckdb").db == Path("explicit.duckdb")


def test_bad_config_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("db = [unclosed\n")
    with pytest.raises(ConfigError, match="cannot read config file"):
        settings_from_file(bad)


def test_missing_config_file_named_by_env_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv("FORECASTER_CONFIG_FILE", str(tmp_path / "none.toml"))
    with pytest.raises(ConfigError, match="does not exist"):
        Settings()


def test_every_cost_and_carbon_flag_is_documented_in_the_readme():
    """A fallback is only 'named' if a user can look the name up."""
    import forecaster.carbon.footprint as footprint
    import forecaster.carbon.intensity as intensity
    import forecaster.pricing.catalog as catalog
    import forecaster.pricing.costs as costs
    import forecaster.pricing.models as models
    import forecaster.pricing.projection as projection
    import forecaster.pricing.usage as usage

    flags = {v for m in (footprint, intensity, catalog, costs, models, projection, usage)
             for k, v in vars(m).items() if k.startswith("FLAG_")}
    documented = set(re.findall(r"^\| `([a-z_]+)` \| (?:cost|carbon)", README, flags=re.M))
    assert flags and not flags - documented, f"flags missing from the README: {sorted(flags - documented)}"


def test_production_refuses_default_secrets(monkeypatch):
    from pydantic import Field

    from forecaster.config import SECRET

    class WithSecrets(Settings):
        api_key: str | None = Field(None, description="an API key", json_schema_extra=SECRET)
        signing_key: str = Field("change-me", description="a signing key", json_schema_extra=SECRET)

    assert WithSecrets().env == "development"  # development runs on the defaults
    with pytest.raises(ConfigError, match="refuses default or empty secrets; set api_key, signing_key"):
        WithSecrets(env="production")
    with pytest.raises(ConfigError, match="set signing_key"):
        WithSecrets(env="production", api_key="k-123")
    monkeypatch.setenv("FORECASTER_ENV", "production")
    monkeypatch.setenv("FORECASTER_SIGNING_KEY", "s-456")
    assert WithSecrets(api_key="k-123").signing_key == "s-456"
    assert Settings().env == "production"  # no secret settings of its own yet: nothing to refuse
