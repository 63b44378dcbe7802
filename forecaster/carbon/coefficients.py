"""Energy and emissions coefficients as data (``forecaster/data/carbon/coefficients.toml``).

Every value comes with its source in the data file; a user overlay (same keys) replaces any.
"""

from __future__ import annotations

import dataclasses
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..pricing.catalog import read_toml


@dataclasses.dataclass(frozen=True)
class Coefficients:
    min_watts_per_vcpu: float
    max_watts_per_vcpu: float
    avg_cpu_utilization: float          # 0..1
    memory_kwh_per_gb_hour: float
    network_kwh_per_gb: float
    pue: float
    lambda_mb_per_vcpu: float
    gateway_cpu_ms_per_request: float   # documented assumption, flagged
    embodied_g_per_vcpu_hour: float     # documented assumption, flagged
    unknown_region_g_per_kwh: float
    source: str = ""
    as_of: str = ""

    @property
    def watts_per_vcpu(self) -> float:
        """CCF average watts per vCPU: min + utilisation x (max - min)."""
        return self.min_watts_per_vcpu + self.avg_cpu_utilization * (self.max_watts_per_vcpu - self.min_watts_per_vcpu)


_FIELDS = [f.name for f in dataclasses.fields(Coefficients) if f.name not in ("source", "as_of")]


def default_path() -> Path:
    return Path(str(resources.files("forecaster") / "data" / "carbon" / "coefficients.toml"))


def load_coefficients(overlay: Path | str | None = None, path: Path | str | None = None) -> Coefficients:
    """The shipped coefficients, with an optional overlay file's values on top."""
    data = read_toml(Path(path) if path else default_path(), "carbon coefficients")
    values = dict(data.get("coefficients", {}))
    if overlay is not None:
        o = read_toml(Path(overlay), "carbon coefficients")
        values.update(o.get("coefficients", o))
    return coefficients_from(values, source=data.get("meta", {}).get("source", ""),
                             as_of=str(data.get("meta", {}).get("as_of", "")))


def coefficients_from(values: dict[str, Any], source: str = "", as_of: str = "") -> Coefficients:
    """Validate (collecting every problem) and build."""
    problems = [f"missing {k}" for k in _FIELDS if k not in values]
    unknown = sorted(set(values) - set(_FIELDS))
    if unknown:
        problems.append(f"unknown keys {unknown}; known: {_FIELDS}")
    for k in _FIELDS:
        v = values.get(k)
        if v is not None and (not isinstance(v, (int, float)) or v < 0):
            problems.append(f"{k} must be a number >= 0, got {v!r}")
    if not problems and not 0 <= values["avg_cpu_utilization"] <= 1:
        problems.append(f"avg_cpu_utilization must be in [0, 1], got {values['avg_cpu_utilization']}")
    if not problems and values["pue"] < 1:
        problems.append(f"pue must be >= 1, got {values['pue']}")
    if problems:
        raise ConfigError("carbon coefficients are invalid: " + "; ".join(problems))
    return Coefficients(**{k: float(values[k]) for k in _FIELDS}, source=source, as_of=as_of)
