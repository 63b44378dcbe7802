"""How figures look: a colour-blind-safe palette, numbers for people, and downsampling for browsers.

Shared by :mod:`forecaster.plots` (figures) and the dashboards (tables and headline numbers), so a
dollar or a gram reads the same everywhere.
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio

# Okabe & Ito (2008), "Color Universal Design": distinguishable under the common colour-vision
# deficiencies. Black is left out of the cycle (used for actuals).
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442"]
ACTUAL = "#222222"
FORECAST = PALETTE[0]
BAND_80 = "rgba(0, 114, 178, 0.28)"
BAND_95 = "rgba(0, 114, 178, 0.13)"
SPIKE = "rgba(213, 94, 0, 0.14)"   # vermillion, light
ALERT = PALETTE[5]
SEQUENTIAL = "Cividis"             # perceptually uniform and colour-blind safe

TEMPLATE_NAME = "forecaster"
MAX_POINTS = 2000                  # per trace sent to the browser


def template() -> go.layout.Template:
    """plotly_white with our palette and a font that reads on a laptop screen."""
    if TEMPLATE_NAME not in pio.templates:
        t = go.layout.Template(pio.templates["plotly_white"])
        t.layout.colorway = PALETTE
        t.layout.font = dict(family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size=13, color="#222")
        t.layout.title = dict(font=dict(size=16), x=0, xanchor="left")
        t.layout.margin = dict(l=60, r=20, t=50, b=40)
        t.layout.hoverlabel = dict(namelength=-1)
        # legends under the plot, so they never cover the title or the data
        t.layout.legend = dict(orientation="h", yanchor="top", y=-0.12, xanchor="left", x=0)
        pio.templates[TEMPLATE_NAME] = t
    return pio.templates[TEMPLATE_NAME]


def _si(value: float, digits: int = 1) -> str:
    """1234 -> 1.2k, 3_400_000 -> 3.4M; small numbers keep their digits."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    v = float(value)
    sign = "-" if v < 0 else ""
    v = abs(v)
    for unit, scale in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if v >= scale:
            s = f"{v / scale:.{digits}f}".rstrip("0").rstrip(".")
            return f"{sign}{s}{unit}"
    if v == 0:
        return "0"
    if v >= 100:
        return f"{sign}{v:.0f}"
    if v >= 1:
        return f"{sign}{v:.{digits}f}".rstrip("0").rstrip(".")
    return f"{sign}{v:.2g}"


def usd(value: float) -> str:
    """$1.2k, $389, $0.42."""
    if value is not None and abs(value) < 1000:
        return f"-${abs(value):,.2f}" if value < 0 else f"${value:,.2f}"
    s = _si(value)
    return s.replace("-", "-$") if s.startswith("-") else f"${s}"


def count(value: float, unit: str = "req") -> str:
    """3.4M req."""
    return f"{_si(value)} {unit}".strip()


def grams(value: float) -> str:
    """CO2e in the unit that reads best: 850 g, 12.5 kg, 3.1 t CO2e."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    v = float(value)
    if abs(v) >= 1e6:
        return f"{v / 1e6:,.1f} t CO2e"
    if abs(v) >= 1e3:
        return f"{v / 1e3:,.1f} kg CO2e"
    if abs(v) >= 1:
        return f"{v:,.0f} g CO2e"
    return f"{v:.2g} g CO2e"


def percent(value: float, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{100 * value:.{digits}f}%"


def hours(value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.0f} h" if value < 48 else f"{value / 24:.1f} d"


def age(seconds: float) -> str:
    """How long ago, roughly: 45 s, 12 min, 3.5 h, 2.0 d."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def minmax_lttb(x: np.ndarray, y: np.ndarray, n_out: int = MAX_POINTS) -> np.ndarray:
    """Indices of at most ``n_out`` points that keep a series' shape: each bucket's min and max
    (so no peak is lost — a spike is what ops look for), then Largest-Triangle-Three-Buckets
    (Steinarsson 2013) on those candidates. ``x`` must be sorted; NaNs in ``y`` are kept out of
    the choice but the first and last points always stay."""
    n = len(y)
    if n <= n_out or n_out < 3:
        return np.arange(n)
    xf = np.asarray(x, dtype="float64")
    yf = np.asarray(y, dtype="float64")
    yfill = np.where(np.isnan(yf), np.nanmedian(yf) if np.isfinite(yf).any() else 0.0, yf)
    # 1. min-max preselection: 2 candidates per bucket, about 4x the output
    n_pre = min(n, 4 * n_out)
    edges = np.linspace(1, n - 1, n_pre // 2 + 1).astype(int)
    cand = [0]
    for a, b in zip(edges[:-1], edges[1:]):
        if b <= a:
            continue
        seg = yfill[a:b]
        lo, hi = a + int(np.argmin(seg)), a + int(np.argmax(seg))
        cand.extend(sorted({lo, hi}))
    cand.append(n - 1)
    idx = np.unique(np.asarray(cand))
    if len(idx) <= n_out:
        return idx
    # 2. LTTB over the candidates
    cx, cy = xf[idx], yfill[idx]
    m = len(idx)
    out = [0]
    bounds = np.linspace(1, m - 1, n_out - 1).astype(int)
    a = 0
    for i in range(n_out - 2):
        lo, hi = bounds[i], max(bounds[i + 1], bounds[i] + 1)
        nlo, nhi = bounds[i + 1], bounds[i + 2] if i + 2 < len(bounds) else m
        nhi = max(nhi, nlo + 1)
        avg_x, avg_y = cx[nlo:nhi].mean(), cy[nlo:nhi].mean()
        area = np.abs((cx[a] - avg_x) * (cy[lo:hi] - cy[a]) - (cx[a] - cx[lo:hi]) * (avg_y - cy[a]))
        a = lo + int(np.argmax(area))
        out.append(a)
    out.append(m - 1)
    return idx[np.unique(out)]
