"""Deterministic traffic-like series for the model tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


def traffic(days: float = 14, step: str = "1h", level: float = 200.0, seed: int = 0,
            start: str = "2026-01-05") -> pd.DataFrame:
    """Counts with a daily and a weekly cycle and Poisson noise: ds, y."""
    stepd = pd.Timedelta(step)
    n = int(pd.Timedelta(days=days) / stepd)
    ds = pd.date_range(start, periods=n, freq=stepd)
    hour = ds.hour.to_numpy() + ds.minute.to_numpy() / 60
    daily = 1 + 0.6 * np.sin(2 * np.pi * (hour - 8) / 24)
    weekly = np.where(ds.day_of_week.to_numpy() >= 5, 0.6, 1.1)
    lam = level * daily * weekly * (stepd / pd.Timedelta("1h"))
    y = np.random.default_rng(seed).poisson(lam).astype(float)
    return pd.DataFrame({"ds": ds, "y": y})


@pytest.fixture
def make_traffic():
    return traffic
