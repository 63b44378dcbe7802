"""Exact shortcuts for work that Prophet and cmdstanpy redo on every fit (measured ~25% of a fit + predict).

- Holidays: Prophet rebuilds the country's holiday calendar with the ``holidays`` package on every
  call of ``make_holidays_df`` (three times per fit + predict) and of ``get_holiday_names`` (50 years
  of names, for every regressor added). Both depend only on their arguments, so they are cached per
  process (a copy of the frame is returned each time: callers may modify it). ~30 ms per series.
- Stan data: cmdstanpy writes it through stanio's ``write_stan_json``, which without ``ujson``
  streams through the pure-Python JSON encoder; ``json.dumps`` (the C encoder, same defaults) writes
  the same bytes several times faster. ~30 ms per fit.

:func:`install` puts the shortcuts in place of the originals in the modules that call them,
once per process; the results are the same, bit for bit (``tests/models/test_prophet_speed.py``
pins each shortcut against its original), so any other use of Prophet in the process only gets faster.
"""

from __future__ import annotations

import functools
import json
import logging
from typing import Any, Mapping

import pandas as pd

log = logging.getLogger(__name__)

_installed = False


def install() -> None:
    """Replace Prophet's holiday builders and cmdstanpy's Stan JSON writer by the cached / C versions (idempotent)."""
    global _installed
    if _installed:
        return
    import cmdstanpy.utils.filesystem as cmdstan_files
    import prophet.forecaster as forecaster
    from prophet import make_holidays

    forecaster.make_holidays_df = cached_holidays_df(make_holidays.make_holidays_df)
    forecaster.get_holiday_names = cached_holiday_names(make_holidays.get_holiday_names)
    cmdstan_files.write_stan_json = write_stan_json
    _installed = True
    log.debug("prophet shortcuts installed: cached holidays, C JSON encoder for Stan data")


def cached_holidays_df(make_holidays_df):
    """``make_holidays_df`` memoised on its arguments (year list in the order given), returning copies."""
    @functools.lru_cache(maxsize=256)
    def cached(year_list: tuple, country: str, province: str | None, state: str | None) -> pd.DataFrame:
        return make_holidays_df(year_list=list(year_list), country=country, province=province, state=state)

    @functools.wraps(make_holidays_df)
    def make(year_list, country, province=None, state=None) -> pd.DataFrame:
        return cached(tuple(year_list), country, province, state).copy()

    return make


def cached_holiday_names(get_holiday_names):
    """``get_holiday_names`` memoised per country, returning a fresh set each time."""
    cached = functools.lru_cache(maxsize=64)(get_holiday_names)

    @functools.wraps(get_holiday_names)
    def names(country: str) -> set[str]:
        return set(cached(country))

    return names


def write_stan_json(path: str, data: Mapping[str, Any]) -> None:
    """stanio's ``write_stan_json`` through the C JSON encoder: the same values conversion
    (``process_dictionary``) and the same encoder settings, written in one call."""
    from stanio.json import process_dictionary

    with open(path, "w") as fd:
        fd.write(json.dumps(process_dictionary(data)))


__all__ = ["cached_holiday_names", "cached_holidays_df", "install", "write_stan_json"]
