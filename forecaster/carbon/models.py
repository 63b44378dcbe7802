"""Language-model calls in grams of CO2e: tokens x an energy-per-token estimate per capability class
(``forecaster/data/carbon/model_energy.toml``, each row with its source) x PUE x the region's grid.

The estimates are documented assumptions, not measurements: every line carries the flag
``model_energy_estimate`` (and ``model_tier_unknown`` when the price catalog gives the model no
tier, which then counts at the ``unknown`` class's figures). Cached input tokens count as input.
Pure: token frames in, carbon lines out.
"""

from __future__ import annotations

import dataclasses
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConfigError
from ..pricing.catalog import read_toml
from ..pricing.models import ModelCatalog
from .coefficients import Coefficients
from .intensity import GridIntensity

COMPONENT = "model_inference"
FLAG_ESTIMATE = "model_energy_estimate"
FLAG_TIER_UNKNOWN = "model_tier_unknown"
UNKNOWN_TIER = "unknown"
#: per model call: the carbon lines' columns plus what the per-model report needs
MODEL_COLUMNS = ["kind", "ts", "api", "stage", "route", "region", "component", "kwh", "g_co2e", "g_co2e_per_kwh",
                 "requests", "flags", "provider", "model", "model_tier", "input_tokens", "output_tokens"]


@dataclasses.dataclass(frozen=True)
class TierEnergy:
    tier: str
    wh_per_1k_input: float
    wh_per_1k_output: float
    source: str
    note: str = ""


@dataclasses.dataclass(frozen=True)
class ModelEnergy:
    tiers: dict[str, TierEnergy]
    as_of: str = ""
    uncertainty: str = ""

    def for_tier(self, tier: str | None) -> tuple[TierEnergy, str]:
        """The energy of a tier and a flag (``model_tier_unknown`` when it falls back to ``unknown``)."""
        if tier is not None and tier in self.tiers:
            return self.tiers[tier], ""
        return self.tiers[UNKNOWN_TIER], FLAG_TIER_UNKNOWN

    def kwh(self, tier: str | None, input_tokens: Any, output_tokens: Any, pue: float) -> Any:
        """kWh of calls of one tier: (input / 1000 x Wh in + output / 1000 x Wh out) / 1000 x PUE."""
        e, _ = self.for_tier(tier)
        wh = (np.asarray(input_tokens, dtype=float) * e.wh_per_1k_input
              + np.asarray(output_tokens, dtype=float) * e.wh_per_1k_output) / 1000.0
        return wh / 1000.0 * pue


def default_path() -> Path:
    return Path(str(resources.files("forecaster") / "data" / "carbon" / "model_energy.toml"))


def load_model_energy(path: Path | str | None = None) -> ModelEnergy:
    """The shipped estimates (or ``path``: same layout); every bad row is reported at once."""
    p = Path(path) if path else default_path()
    data = read_toml(p, "model energy file")
    tiers, problems = {}, []
    for i, r in enumerate(data.get("model_energy", [])):
        try:
            wi, wo = float(r["wh_per_1k_input"]), float(r["wh_per_1k_output"])
            if not (wi >= 0 and wo >= 0 and np.isfinite(wi) and np.isfinite(wo)):
                raise ValueError(f"energies must be finite numbers >= 0, got {wi}, {wo}")
            if not r.get("source"):
                raise ValueError("every row needs its source")
            tiers[str(r["tier"])] = TierEnergy(str(r["tier"]), wi, wo, str(r["source"]), str(r.get("note", "")))
        except (KeyError, TypeError, ValueError) as e:
            problems.append(f"model_energy row {i}: {e}")
    if UNKNOWN_TIER not in tiers:
        problems.append(f"a row with tier = {UNKNOWN_TIER!r} is required (models the catalog gives no tier)")
    if problems:
        raise ConfigError(f"model energy file {p} is invalid: " + "; ".join(problems))
    meta = data.get("meta", {})
    return ModelEnergy(tiers, str(meta.get("as_of", "")), str(meta.get("uncertainty", "")))


def model_tiers(tokens: pd.DataFrame, catalog: ModelCatalog) -> list[str | None]:
    """The catalog tier of each token line's (provider, model, region), None when unknown."""
    cache: dict[tuple[str, str, str], str | None] = {}
    out: list[str | None] = []
    for k in zip(tokens["provider"].astype(str), tokens["model"].astype(str), tokens["region"].astype(str)):
        if k not in cache:
            price, _ = catalog.lookup(*k)
            cache[k] = price.tier if price is not None else None
        out.append(cache[k])
    return out


def model_carbon(tokens: pd.DataFrame, catalog: ModelCatalog, energy: ModelEnergy, coefficients: Coefficients,
                 grid: GridIntensity, kind: str = "actual") -> pd.DataFrame:
    """Carbon lines (:data:`MODEL_COLUMNS`) of token lines (``ts``, api, stage, route, provider, model,
    region, ``requests``, ``input_tokens``, ``output_tokens``, ``cached_input_tokens``)."""
    if not len(tokens):
        return pd.DataFrame(columns=MODEL_COLUMNS)
    t = tokens.reset_index(drop=True)
    tiers = model_tiers(t, catalog)
    n_in = t["input_tokens"].fillna(0).astype(float).to_numpy()   # cached input tokens are part of input
    n_out = t["output_tokens"].fillna(0).astype(float).to_numpy()
    kwh = np.zeros(len(t))
    flags = []
    for i, tier in enumerate(tiers):
        kwh[i] = energy.kwh(tier, n_in[i], n_out[i], coefficients.pue)
    g_per_kwh, grid_flags = grid.for_frame(t["region"].astype(str), t["ts"])
    for tier, gf in zip(tiers, grid_flags):
        _, tf = energy.for_tier(tier)
        flags.append(",".join(sorted({FLAG_ESTIMATE, *(x for x in (tf, gf) if x)})))
    return pd.DataFrame({
        "kind": kind, "ts": pd.to_datetime(t["ts"]), "api": t["api"], "stage": t["stage"], "route": t["route"],
        "region": t["region"], "component": COMPONENT, "kwh": kwh, "g_co2e": kwh * g_per_kwh,
        "g_co2e_per_kwh": g_per_kwh, "requests": t["requests"].astype(float), "flags": flags,
        "provider": t["provider"], "model": t["model"], "model_tier": [x or UNKNOWN_TIER for x in tiers],
        "input_tokens": n_in.astype("int64"), "output_tokens": n_out.astype("int64")})[MODEL_COLUMNS]


def summarize_model_carbon(lines: pd.DataFrame) -> list[dict]:
    """Per route and model (``api|stage|route|provider/model``), most gCO2e first: calls, tokens, kWh,
    gCO2e and gCO2e per call, the model's tier and the flags."""
    if not len(lines):
        return []
    rows: list[dict[str, Any]] = []
    for (api, stage, route, prov, model), g in lines.groupby(["api", "stage", "route", "provider", "model"], sort=True):
        calls = float(g["requests"].sum())
        grams = float(g["g_co2e"].sum())
        rows.append({"key": f"{api}|{stage}|{route}|{prov}/{model}", "api": api, "stage": stage, "route": route,
                     "provider": prov, "model": model, "model_tier": str(g["model_tier"].iloc[0]), "calls": int(calls),
                     "input_tokens": int(g["input_tokens"].sum()), "output_tokens": int(g["output_tokens"].sum()),
                     "kwh": float(g["kwh"].sum()), "g_co2e": grams,
                     "g_co2e_per_call": grams / calls if calls else None,
                     "flags": sorted({f for s in g["flags"] for f in str(s).split(",") if f})})
    rows.sort(key=lambda r: (-float(r["g_co2e"]), str(r["key"])))
    return rows
