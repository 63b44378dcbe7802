"""Price catalogs as versioned data: load a TOML catalog, lay a user overlay on top, look prices up.

A catalog (``forecaster/data/prices/<name>-<date>.toml``) holds one ``[[price]]`` row per
(key, region) with cumulative monthly tiers, its source URL and date. Lookups never return a
silent zero: a region with no row falls back to the catalog's default region and says so
(``price_region_fallback``); a key with no row at all raises :class:`MissingPrice`.
"""

from __future__ import annotations

import dataclasses
import logging
import tomllib
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import ConfigError, NotFound

log = logging.getLogger(__name__)

FLAG_REGION_FALLBACK = "price_region_fallback"


class MissingPrice(NotFound):
    """No catalog row for a price key in any region."""

    code = "missing_price"


@dataclasses.dataclass(frozen=True)
class Tier:
    upto: Decimal | None          # cumulative bound in units; None = no bound (last tier)
    usd_per_unit: Decimal


@dataclasses.dataclass(frozen=True)
class Price:
    key: str                      # e.g. apigw_rest.requests, lambda.duration.arm64
    region: str
    unit: str                     # request, GB, GB-second, cache-hour...
    tiers: tuple[Tier, ...]
    source: str
    as_of: str
    free_group: str | None = None
    increment_bytes: int | None = None
    fallback_of: str | None = None   # the row copies this region's price (unverified regional price)
    note: str | None = None


@dataclasses.dataclass(frozen=True)
class Catalog:
    name: str
    as_of: str
    default_region: str
    prices: dict[tuple[str, str], Price]
    gateway_keys: dict[str, str]
    free_tier: dict[str, Decimal]

    @property
    def label(self) -> str:
        return f"{self.name}-{self.as_of}"

    def lookup(self, key: str, region: str) -> tuple[Price, tuple[str, ...]]:
        """The price of ``key`` in ``region`` and the flags it carries (fallbacks are flagged)."""
        p = self.prices.get((key, region))
        if p is not None:
            return p, ((FLAG_REGION_FALLBACK,) if p.fallback_of else ())
        p = self.prices.get((key, self.default_region))
        if p is None:
            known = sorted({k for k, _ in self.prices})
            raise MissingPrice(f"no price for {key!r} in {region!r} nor {self.default_region!r}; "
                               f"catalog {self.label} prices: {', '.join(known)}")
        log.debug("no %s price for %s: using %s", key, region, self.default_region)
        return p, (FLAG_REGION_FALLBACK,)

    def has(self, key: str) -> bool:
        return any(k == key for k, _ in self.prices)


def shipped_files(folder: str) -> list[Path]:
    """The TOML files shipped in ``forecaster/data/<folder>``, oldest first (names end in their date)."""
    root = resources.files("forecaster") / "data" / folder
    return sorted(Path(str(p)) for p in root.iterdir() if p.name.endswith(".toml"))


def newest_shipped(folder: str, what: str) -> Path:
    shipped = shipped_files(folder)
    if not shipped:
        raise ConfigError(f"no {what} shipped in forecaster/data/{folder}")
    return shipped[-1]


def builtin_catalogs() -> list[Path]:
    """The catalogs shipped in the package, oldest first (names end in the date)."""
    return shipped_files("prices")


def load_catalog(path: Path | str | None = None, overlay: Path | str | None = None) -> Catalog:
    """Load a catalog (default: the newest shipped one) and apply an optional overlay file."""
    path = newest_shipped("prices", "price catalog") if path is None else path
    data = read_toml(Path(path), "price file")
    if overlay is not None:
        data = apply_overlay(data, read_toml(Path(overlay), "price file"))
    return parse_catalog(data, origin=str(path))


def read_toml(path: Path, what: str) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"cannot read {what} {path}: {e}") from e


def apply_overlay(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """Overlay rows replace base rows of the same (key, region); ``[discounts]`` scale prices.

    ``[discounts]`` maps a key or key prefix ending in ``*`` (or ``"*"``) to a fraction off,
    e.g. ``"lambda.*" = 0.17``; the most specific match wins. Discounted rows say so in ``note``.
    """
    out = dict(base)
    rows = {(r["key"], r["region"]): dict(r) for r in base.get("price", [])}
    for r in overlay.get("price", []):
        rows[(r.get("key"), r.get("region"))] = dict(r, note=r.get("note", "user override"))
    for section in ("gateway_keys", "free_tier"):
        out[section] = {**base.get(section, {}), **overlay.get(section, {})}
    if "catalog" in overlay:
        out["catalog"] = {**base.get("catalog", {}), **overlay["catalog"]}
    discounts = overlay.get("discounts", {})
    for k, row in rows.items():
        frac = _discount_for(row["key"], discounts)
        if frac:
            keep = Decimal(1) - Decimal(str(frac))
            row["tiers"] = [dict(t, usd=str(Decimal(str(t["usd"])) * keep)) for t in row["tiers"]]
            row["note"] = f"{row.get('note') or ''} discount {frac}".strip()
    out["price"] = list(rows.values())
    return out


def _discount_for(key: str, discounts: dict[str, float]) -> float | None:
    best: tuple[int, float] | None = None
    for pattern, frac in discounts.items():
        if pattern == key or (pattern.endswith("*") and key.startswith(pattern[:-1])):
            score = len(pattern) + (1000 if pattern == key else 0)
            if best is None or score > best[0]:
                best = (score, frac)
    if best is not None and not 0 <= best[1] < 1:
        raise ConfigError(f"discount for {key!r} must be a fraction in [0, 1), got {best[1]}")
    return best[1] if best else None


def parse_catalog(data: dict[str, Any], origin: str = "<dict>") -> Catalog:
    """Validate catalog data (collecting every problem) and build a :class:`Catalog`."""
    problems: list[str] = []
    prices: dict[tuple[str, str], Price] = {}
    for i, r in enumerate(data.get("price", [])):
        where = f"price row {i} ({r.get('key')!r}, {r.get('region')!r})"
        missing = [f for f in ("key", "region", "unit", "tiers", "source") if not r.get(f)]
        if missing:
            problems.append(f"{where}: missing {', '.join(missing)}")
            continue
        try:
            per = Decimal(str(r.get("per", 1)))
            tiers = tuple(Tier(Decimal(str(t["upto"])) if t.get("upto") is not None else None,
                               Decimal(str(t["usd"])) / per) for t in r["tiers"])
        except (KeyError, ArithmeticError, ValueError) as e:
            problems.append(f"{where}: bad tiers {r['tiers']!r}: {e}")
            continue
        bounds = [t.upto for t in tiers]
        if bounds[-1] is not None or any(b is None for b in bounds[:-1]) or bounds[:-1] != sorted({b for b in bounds[:-1] if b is not None}):
            problems.append(f"{where}: tiers need increasing 'upto' bounds and no bound on the last, got {bounds}")
            continue
        if any(t.usd_per_unit < 0 for t in tiers):
            problems.append(f"{where}: negative price")
            continue
        prices[(r["key"], r["region"])] = Price(
            key=r["key"], region=r["region"], unit=r["unit"], tiers=tiers, source=r["source"],
            as_of=str(r.get("as_of", "")), free_group=r.get("free_group"), increment_bytes=r.get("increment_bytes"),
            fallback_of=r.get("fallback_of"), note=r.get("note"))
    meta = data.get("catalog", {})
    if not prices:
        problems.append("no [[price]] rows")
    if problems:
        raise ConfigError(f"price catalog {origin} is invalid: " + "; ".join(problems))
    return Catalog(
        name=str(meta.get("name", "custom")), as_of=str(meta.get("as_of", "")),
        default_region=str(meta.get("default_region", "us-east-1")), prices=prices,
        gateway_keys=dict(data.get("gateway_keys", {})),
        free_tier={k: Decimal(str(v)) for k, v in data.get("free_tier", {}).items()})
