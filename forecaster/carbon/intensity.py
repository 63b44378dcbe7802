"""Grid carbon intensity per region: a static table, and an optional hourly profile that wins.

Static: ``forecaster/data/carbon/grid_aws.csv`` (CCF's AWS emissions factors, t/kWh stored as
gCO2e/kWh, with source and date per row). Hourly: a CSV ``region, hour, g_co2e_per_kwh`` where
hour is an hour of day (0-23, UTC) or an ISO timestamp (e.g. exported from Electricity Maps or
WattTime). Lookup order: exact hour timestamp, hour of day, static table, the unknown-region
average (flagged ``grid_region_fallback``).
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ConfigError

FLAG_GRID_FALLBACK = "grid_region_fallback"
FLAG_GRID_HOURLY = "grid_hourly"


@dataclasses.dataclass(frozen=True)
class GridIntensity:
    static_g_per_kwh: dict[str, float]
    unknown_g_per_kwh: float
    by_timestamp: dict[tuple[str, dt.datetime], float] = dataclasses.field(default_factory=dict)
    by_hour_of_day: dict[tuple[str, int], float] = dataclasses.field(default_factory=dict)

    def lookup(self, region: str, ts: dt.datetime) -> tuple[float, str]:
        """(gCO2e/kWh, flag) for one region and time."""
        hour = pd.Timestamp(ts).floor("h").to_pydatetime()
        if (region, hour) in self.by_timestamp:
            return self.by_timestamp[(region, hour)], FLAG_GRID_HOURLY
        if (region, hour.hour) in self.by_hour_of_day:
            return self.by_hour_of_day[(region, hour.hour)], FLAG_GRID_HOURLY
        if region in self.static_g_per_kwh:
            return self.static_g_per_kwh[region], ""
        return self.unknown_g_per_kwh, FLAG_GRID_FALLBACK

    def for_frame(self, regions: pd.Series, ts: pd.Series) -> tuple[np.ndarray, list[str]]:
        """Vectorised :meth:`lookup` over aligned region and ts columns (cached per pair)."""
        cache: dict[tuple[str, dt.datetime], tuple[float, str]] = {}
        values, flags = [], []
        for r, t in zip(regions.tolist(), pd.to_datetime(ts).tolist()):
            k = (r, t)
            if k not in cache:
                cache[k] = self.lookup(r, t)
            values.append(cache[k][0])
            flags.append(cache[k][1])
        return np.asarray(values, dtype=float), flags

    def hours_by_intensity(self, region: str, start: dt.datetime, end: dt.datetime) -> list[tuple[dt.datetime, float]]:
        """Hours in [start, end) with their intensity, lowest first (ties: earliest)."""
        hours = pd.date_range(pd.Timestamp(start).ceil("h"), pd.Timestamp(end), freq="h", inclusive="left")
        pairs = [(h.to_pydatetime(), self.lookup(region, h.to_pydatetime())[0]) for h in hours]
        return sorted(pairs, key=lambda p: (p[1], p[0]))


def static_path() -> Path:
    return Path(str(resources.files("forecaster") / "data" / "carbon" / "grid_aws.csv"))


def load_static(path: Path | str | None = None) -> dict[str, float]:
    """region -> gCO2e/kWh from the static table."""
    text = _read(Path(path) if path else static_path())
    out, problems = {}, []
    for i, row in enumerate(csv.DictReader(io.StringIO(text)), start=2):
        try:
            out[row["region"].strip()] = float(row["g_co2e_per_kwh"])
        except (KeyError, TypeError, ValueError) as e:
            problems.append(f"line {i}: {e}")
    if problems:
        raise ConfigError(f"grid table {path} is invalid: " + "; ".join(problems))
    return out


def load_hourly(path: Path | str) -> tuple[dict, dict]:
    """(by_timestamp, by_hour_of_day) from an hourly profile CSV; every bad line is reported at once."""
    text = _read(Path(path))
    by_ts: dict[tuple[str, dt.datetime], float] = {}
    by_hod: dict[tuple[str, int], float] = {}
    problems = []
    reader = csv.DictReader(io.StringIO(text))
    need = {"region", "hour", "g_co2e_per_kwh"}
    if not need <= set(reader.fieldnames or []):
        raise ConfigError(f"hourly intensity file {path} needs columns {sorted(need)}, has {reader.fieldnames}")
    for i, row in enumerate(reader, start=2):
        try:
            region, hour, g = row["region"].strip(), row["hour"].strip(), float(row["g_co2e_per_kwh"])
            if g < 0:
                raise ValueError(f"negative intensity {g}")
            if hour.isdigit():
                h = int(hour)
                if not 0 <= h <= 23:
                    raise ValueError(f"hour of day must be 0-23, got {h}")
                by_hod[(region, h)] = g
            else:
                ts = pd.Timestamp(hour)
                if ts.tzinfo is not None:
                    ts = ts.tz_convert("UTC").tz_localize(None)
                by_ts[(region, ts.floor("h").to_pydatetime())] = g
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            problems.append(f"line {i}: {e}")
    if problems:
        raise ConfigError(f"hourly intensity file {path} has {len(problems)} bad line(s): " + "; ".join(problems[:20]))
    return by_ts, by_hod


def load_grid(unknown_g_per_kwh: float, hourly_file: Path | str | None = None,
              static_file: Path | str | None = None) -> GridIntensity:
    by_ts, by_hod = load_hourly(hourly_file) if hourly_file else ({}, {})
    return GridIntensity(load_static(static_file), unknown_g_per_kwh, by_ts, by_hod)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"cannot read {path}: {e}") from e
