"""Model (LLM) prices as versioned data, and tokens priced in dollars: pure, frames in and out.

The catalog (``forecaster/data/model_prices/models-<date>.toml``) holds one ``[[model_price]]`` row
per (provider, model, region): on-demand price per 1M input and output tokens, the cached-input
price and the batch discount where the provider publishes them, each with its source and date.
``[[model_price]]`` rows in the price overlay file (``settings.price_overrides_file``) replace or add
rows. Prices are per 1M tokens, so tokens x price is micro-dollars, exactly (Decimal), rounded once
per line.

Nothing is priced at a silent zero: a model with no row gets no dollars (``usd_micros`` NULL) and
the flag ``unknown_model`` (or, when the log carried its own cost, that cost and ``logged_cost``).
"""

from __future__ import annotations

import dataclasses
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConfigError
from .catalog import newest_shipped, read_toml, shipped_files

FLAG_UNKNOWN = "unknown_model"
FLAG_LOGGED_COST = "logged_cost"
FLAG_REGION_FALLBACK = "price_region_fallback"
FLAG_NORMALIZED = "model_id_normalized"
FLAG_NO_CACHE_PRICE = "no_cache_price"
FLAG_NO_BATCH_PRICE = "no_batch_price"

KEY = ["api", "stage", "route", "provider", "model", "region", "client", "tier"]
TOKENS = ["requests", "input_tokens", "output_tokens", "cached_input_tokens"]
PRICED_COLUMNS = ["ts", *KEY, *TOKENS, "kind", "input_usd_micros", "output_usd_micros", "usd_micros", "flags",
                  "price_source"]
#: capability / size classes of the catalog's ``tier`` column, largest first.
TIERS = ("large", "small")
_INFERENCE_PREFIXES = ("us.", "eu.", "apac.", "us-gov.", "global.")


@dataclasses.dataclass(frozen=True)
class ModelPrice:
    provider: str
    model: str
    region: str                          # '*' = the same everywhere
    input_per_1m: Decimal
    output_per_1m: Decimal
    cached_input_per_1m: Decimal | None
    batch_discount: Decimal | None
    source: str
    as_of: str
    fallback_of: str | None = None
    note: str | None = None
    family: str | None = None            # model line (claude, gpt, nova, llama): routing equivalence
    tier: str | None = None              # capability / size class: "large" or "small" (routing, energy)


@dataclasses.dataclass(frozen=True)
class ModelCatalog:
    name: str
    as_of: str
    default_region: str
    prices: dict[tuple[str, str, str], ModelPrice]

    @property
    def label(self) -> str:
        return f"{self.name}-{self.as_of}"

    def lookup(self, provider: str, model: str, region: str) -> tuple[ModelPrice | None, tuple[str, ...]]:
        """The price of a call, and its flags; (None, ('unknown_model',)) when no row fits."""
        for i, m in enumerate(_candidates(model)):
            flags = (FLAG_NORMALIZED,) if i else ()
            for reg, extra in ((region, ()), ("*", ()), (self.default_region, (FLAG_REGION_FALLBACK,))):
                p = self.prices.get((provider, m, reg))
                if p is not None:
                    fb = (FLAG_REGION_FALLBACK,) if p.fallback_of and not extra else ()
                    return p, flags + extra + fb
        return None, (FLAG_UNKNOWN,)


def normalize_model_id(model: str) -> str:
    """A logged model id without an ARN or cross-region inference prefix (the catalog's spelling)."""
    return _candidates(model)[-1]


def _candidates(model: str) -> list[str]:
    """The logged id, then without an ARN prefix, then without a cross-region inference prefix."""
    out = [model]
    m = model.rsplit("/", 1)[-1] if model.startswith("arn:") else model
    for p in _INFERENCE_PREFIXES:
        if m.startswith(p):
            m = m[len(p):]
            break
    if m != model:
        out.append(m)
    return out


def builtin_model_catalogs() -> list[Path]:
    return shipped_files("model_prices")


def load_model_catalog(path: Path | str | None = None, overlay: Path | str | None = None) -> ModelCatalog:
    """The newest shipped model catalog (or ``path``), with the overlay's ``[[model_price]]`` rows laid on."""
    path = newest_shipped("model_prices", "model price catalog") if path is None else path
    data = read_toml(Path(path), "model price file")
    if overlay is not None:
        rows = {(r.get("provider"), r.get("model"), r.get("region")): r for r in data.get("model_price", [])}
        for r in read_toml(Path(overlay), "model price file").get("model_price", []):
            rows[(r.get("provider"), r.get("model"), r.get("region"))] = dict(r, note=r.get("note", "user override"))
        data = dict(data, model_price=list(rows.values()))
    return parse_model_catalog(data, str(path))


def parse_model_catalog(data: dict[str, Any], origin: str = "<dict>") -> ModelCatalog:
    """Validate (collecting every problem) and build a :class:`ModelCatalog`."""
    problems: list[str] = []
    prices: dict[tuple[str, str, str], ModelPrice] = {}
    for i, r in enumerate(data.get("model_price", [])):
        where = f"model_price row {i} ({r.get('provider')!r}, {r.get('model')!r}, {r.get('region')!r})"
        missing = [f for f in ("provider", "model", "region", "input", "output", "source") if r.get(f) in (None, "")]
        if missing:
            problems.append(f"{where}: missing {', '.join(missing)}")
            continue
        try:
            nums = {k: Decimal(str(r[k])) if r.get(k) is not None else None
                    for k in ("input", "output", "cached_input", "batch_discount")}
        except ArithmeticError as e:
            problems.append(f"{where}: expected decimal prices, got {e}")
            continue
        if any(v is not None and (v < 0 or not v.is_finite()) for v in nums.values()):
            problems.append(f"{where}: prices must be >= 0")
            continue
        if r.get("tier") not in (None, *TIERS):
            problems.append(f"{where}: tier must be one of {', '.join(TIERS)}, got {r.get('tier')!r}")
            continue
        bd = nums["batch_discount"]
        if bd is not None and not bd < 1:
            problems.append(f"{where}: batch_discount must be a fraction in [0, 1), got {bd}")
            continue
        inp, outp = nums["input"], nums["output"]
        assert inp is not None and outp is not None
        prices[(r["provider"], r["model"], r["region"])] = ModelPrice(
            provider=r["provider"], model=r["model"], region=r["region"], input_per_1m=inp, output_per_1m=outp,
            cached_input_per_1m=nums["cached_input"], batch_discount=bd, source=r["source"],
            as_of=str(r.get("as_of", "")), fallback_of=r.get("fallback_of"), note=r.get("note"),
            family=r.get("family"), tier=r.get("tier"))
    if not prices:
        problems.append("no [[model_price]] rows")
    if problems:
        raise ConfigError(f"model price catalog {origin} is invalid: " + "; ".join(problems))
    meta = data.get("catalog", {})
    return ModelCatalog(name=str(meta.get("name", "models")), as_of=str(meta.get("as_of", "")),
                        default_region=str(meta.get("default_region", "us-east-1")), prices=prices)


def price_tokens(tokens: pd.DataFrame, catalog: ModelCatalog, kind: str = "actual") -> pd.DataFrame:
    """Price token lines (``ts``, :data:`KEY`, :data:`TOKENS`, optional ``logged_cost_usd``) in micro-dollars."""
    if not len(tokens):
        return pd.DataFrame(columns=PRICED_COLUMNS)
    rows = []
    cache: dict[tuple[str, str, str], tuple[ModelPrice | None, tuple[str, ...]]] = {}
    logged = tokens["logged_cost_usd"] if "logged_cost_usd" in tokens else pd.Series(np.nan, index=tokens.index)
    rec: Any
    for rec, cost in zip(tokens[["ts", *KEY, *TOKENS]].itertuples(index=False), logged):
        k = (str(rec.provider), str(rec.model), str(rec.region))
        if k not in cache:
            cache[k] = catalog.lookup(*k)
        price, flags = cache[k]
        n_in, n_out, n_cached = int(rec.input_tokens), int(rec.output_tokens), int(rec.cached_input_tokens)
        if price is None:
            usd_in = usd_out = total = None
            if cost is not None and not pd.isna(cost):
                total = int((Decimal(str(cost)) * 1_000_000).quantize(Decimal(1), ROUND_HALF_EVEN))
                flags = flags + (FLAG_LOGGED_COST,)
            rows.append((*rec, kind, usd_in, usd_out, total, ",".join(flags), None))
            continue
        mult = Decimal(1)
        if rec.tier == "batch":
            if price.batch_discount is None:
                flags = flags + (FLAG_NO_BATCH_PRICE,)
            else:
                mult -= price.batch_discount
        cached_price = price.cached_input_per_1m
        if cached_price is None:
            cached_price = price.input_per_1m
            if n_cached:
                flags = flags + (FLAG_NO_CACHE_PRICE,)
        d_in = ((n_in - n_cached) * price.input_per_1m + n_cached * cached_price) * mult
        d_out = n_out * price.output_per_1m * mult
        usd_in, usd_out = _micros(d_in), _micros(d_out)
        rows.append((*rec, kind, usd_in, usd_out, usd_in + usd_out, ",".join(flags), price.source))
    out = pd.DataFrame(rows, columns=PRICED_COLUMNS)
    for c in ("input_usd_micros", "output_usd_micros", "usd_micros"):
        out[c] = out[c].astype("Int64")
    return out


def _micros(d: Decimal) -> int:
    return int(d.quantize(Decimal(1), ROUND_HALF_EVEN))


GROUPINGS = {"route": ["api", "stage", "route"], "model": ["provider", "model"], "client": ["client"],
             "region": ["region"], "api": ["api"]}


def summarize_models(priced: pd.DataFrame, by: str) -> list[dict]:
    """Rows per route / model / client, largest spend first: tokens, dollars and flags."""
    if by not in GROUPINGS:
        from ..errors import UnknownName
        raise UnknownName("model grouping", by, list(GROUPINGS))
    if not len(priced):
        return []
    cols = GROUPINGS[by]
    key = priced[cols[0]].astype(str)
    for c in cols[1:]:
        key = key + ("/" if by == "model" else "|") + priced[c].astype(str)
    rows: list[dict[str, Any]] = []
    for k, g in priced.assign(_key=key.values).groupby("_key", sort=True):
        flags = sorted({f for s in g["flags"].fillna("") for f in str(s).split(",") if f})
        rows.append({"key": str(k), "usd": int(g["usd_micros"].fillna(0).sum()) / 1e6,
                     "unpriced": bool(g["usd_micros"].isna().any()),
                     **{c: int(g[c].sum()) for c in TOKENS}, "flags": flags})
    rows.sort(key=lambda r: (-float(r["usd"]), str(r["key"])))
    return rows


def unpriced_models(priced: pd.DataFrame) -> list[dict]:
    """Every (provider, model, region) with tokens but no price: never a silent zero."""
    if not len(priced):
        return []
    bad = priced[priced["usd_micros"].isna() | priced["flags"].str.contains(FLAG_LOGGED_COST, regex=False)]
    out = []
    for (prov, model, region), g in bad.groupby(["provider", "model", "region"], sort=True):
        out.append({"provider": prov, "model": model, "region": region, "requests": int(g["requests"].sum()),
                    "input_tokens": int(g["input_tokens"].sum()), "output_tokens": int(g["output_tokens"].sum()),
                    "priced_from_log_usd": int(g["usd_micros"].fillna(0).sum()) / 1e6})
    return out
