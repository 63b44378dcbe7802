"""events: CSV/YAML calendars, validation naming row and field, holidays, regressors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from forecaster.errors import BadInput, ConfigError, UnknownName
from forecaster.forecast.events import Calendar, event_at, holiday_events, load_events, regressors, slug

CSV = """name,start,end,routes,expected_uplift,recurring
Black Friday,2026-11-27,2026-11-27,,3,
Launch,2026-11-10T14:00,2026-11-10T18:00,GET /products*;route:shop|*,,
Flash sale,2026-11-06T18:00,2026-11-06T20:00,,1.5,weekly
"""


def test_csv_loads_and_dates_include_the_whole_day(tmp_path):
    p = tmp_path / "ev.csv"
    p.write_text(CSV)
    bf, launch, flash = load_events(p)
    assert bf.start == pd.Timestamp("2026-11-27") and bf.end == pd.Timestamp("2026-11-28")
    assert bf.expected_uplift == 3 and bf.column == "event_black_friday"
    assert launch.routes == ("GET /products*", "route:shop|*")
    assert flash.recurring == "weekly"
    occ = flash.occurrences(pd.Timestamp("2026-11-01"), pd.Timestamp("2026-11-30"))
    assert [s.day for s, _ in occ] == [6, 13, 20, 27]


def test_yaml_loads_with_list_routes_and_utc_offsets(tmp_path):
    p = tmp_path / "ev.yaml"
    p.write_text("events:\n- name: Sale\n  start: 2026-11-27T08:00:00+01:00\n  end: 2026-11-27T10:00:00+01:00\n"
                 "  routes: [GET /a, GET /b]\n")
    (ev,) = load_events(p)
    assert ev.start == pd.Timestamp("2026-11-27 07:00") and ev.routes == ("GET /a", "GET /b")


def test_validation_names_every_row_and_field(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_text("name,start,end,expected_uplift,recurring\n"
                 ",2026-11-27,2026-11-28,,\n"
                 "X,not-a-date,2026-11-28,abc,monthly\n"
                 "Y,2026-11-28T10:00,2026-11-28T09:00,-1,\n")
    with pytest.raises(BadInput) as e:
        load_events(p)
    msg = str(e.value)
    for part in ("row 2, field 'name'", "row 3, field 'start'", "'not-a-date'", "row 3, field 'expected_uplift'",
                 "row 3, field 'recurring'", "row 4, field 'end'", "row 4, field 'expected_uplift'"):
        assert part in msg, (part, msg)
    with pytest.raises(UnknownName, match="known: .csv, .yaml, .yml"):
        load_events(tmp_path / "ev.txt")


def test_holidays_and_unknown_country():
    hs = holiday_events("US", pd.Timestamp("2026-11-01"), pd.Timestamp("2026-12-01"))
    assert any(h.name == "Thanksgiving" or "Thanksgiving" in h.name for h in hs)
    assert all(h.column == "event_holiday" for h in hs)
    assert holiday_events(None, pd.Timestamp("2026-01-01"), pd.Timestamp("2026-12-31")) == []
    with pytest.raises(ConfigError, match="'XX'"):
        holiday_events("XX", pd.Timestamp("2026-01-01"), pd.Timestamp("2026-12-31"))


def test_regressors_per_series(tmp_path):
    p = tmp_path / "ev.csv"
    p.write_text(CSV)
    cal = Calendar.build(p, "US", pd.Timestamp("2026-11-01"), pd.Timestamp("2026-12-01"))
    ds = pd.date_range("2026-11-01", "2026-11-30 23:00", freq="1h")
    step = pd.Timedelta("1h")
    r = regressors(cal.events, "route:shop|prod|GET /products|us-east-1", ds, step)
    assert list(r.columns) == ["ds", "event_black_friday", "event_black_friday_uplift", "event_flash_sale",
                               "event_flash_sale_uplift", "event_holiday", "event_launch"]
    by = r.set_index("ds")
    assert by.loc["2026-11-27 12:00", "event_black_friday"] == 1
    assert by.loc["2026-11-27 12:00", "event_black_friday_uplift"] == 3
    assert by["event_black_friday"].sum() == 24
    assert by["event_flash_sale"].sum() == 2 * 4 and by["event_flash_sale_uplift"].max() == 1.5
    assert by["event_launch"].sum() == 4
    assert by.loc["2026-11-26 12:00", "event_holiday"] == 1   # Thanksgiving
    other = regressors(cal.events, "route:pay|v1|POST /charge|us-east-1", ds, step)
    assert "event_launch" not in other.columns
    assert regressors([], "total", ds, step) is None
    assert event_at(cal.events, "total", pd.Timestamp("2026-11-27 10:00"), pd.Timestamp("2026-11-27 11:00")) == "Black Friday"
    assert slug("Black Friday 2026!") == "black_friday_2026"


def test_sample_calendar_loads():
    sample = Path(__file__).resolve().parents[2] / "data" / "samples" / "events.csv"
    events = load_events(sample)
    assert any("black friday" in e.name.lower() for e in events)


def test_reads_the_sample_generators_calendar(tmp_path):
    samples = pytest.importorskip("forecaster.samples.events")
    p = tmp_path / "events.csv"
    p.write_text(samples.events_csv(samples.default_events("2026-11-01", "2026-12-01")))
    events = {slug(e.name): e for e in load_events(p)}
    bf = events["black_friday"]
    assert bf.expected_uplift == 5
    assert bf.applies_to("route:shop|prod|GET /products|us-east-1")
    assert not bf.applies_to("route:search|prod|GET /search|us-east-1") and not bf.applies_to("total")
    tg = events["thanksgiving"]
    assert tg.applies_to("route:shop|prod|GET /products|us-east-1")
    assert not tg.applies_to("route:shop|prod|GET /products|eu-west-1") and not tg.applies_to("api:shop")
