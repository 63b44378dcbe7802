"""Routes a person would write: templates mined from the traffic of logs that carry none.

Each test fails on the heuristics alone (every distinct path a route of its own).
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from forecaster.config import Settings
from forecaster.ingest import ingest
from forecaster.ingest.forget import forget
from forecaster.ingest.route_mining import MiningRules, PathStat, mine, propose
from forecaster.samples.data_api import clf, data_api_log, word
from forecaster.store import connect
from forecaster.store.db import run

def routes_of(con) -> dict[str, int]:
    return dict(run(con, "SELECT route, sum(requests)::BIGINT FROM traffic_1m GROUP BY 1"))


def write(tmp_path: Path, name: str, lines: list[str]) -> str:
    p = tmp_path / name
    p.write_text("".join(lines))
    return str(p)


def load(tmp_path: Path, name: str, uris: list[str], settings: Settings | None = None):
    con = connect(tmp_path / name)
    ingest(con, uris, settings or Settings(ingest_tail_wait_s=0))
    return con


def consistent(con) -> None:
    """The rollups hold exactly the raw rows, route by route and minute by minute."""
    raw = run(con, "SELECT api, route, date_trunc('minute', ts), count(*) FROM requests GROUP BY ALL ORDER BY ALL")
    rolled = run(con, "SELECT api, route, ts, sum(requests)::BIGINT FROM traffic_1m GROUP BY ALL ORDER BY ALL")
    assert raw == rolled


# ---- the mining itself (pure) -------------------------------------------------------------------

def test_a_many_valued_position_becomes_a_parameter_with_its_extension():
    keys = [f"GET /erddap/tabledap/ds{c}.{e}" for c in "abcdefghijkl" for e in ("csv", "nc")]
    keys += [f"GET /images/{c}logo.gif" for c in "abcdefghijkl"] + ["GET /images/", "GET /images/{id}"]
    keys += [f"GET /api/{r}" for r in ("users", "orders", "carts")]             # few values: literal
    got = propose(keys, param_min_values=10)
    assert {got[k] for k in keys if "tabledap" in k} == {"GET /erddap/tabledap/{name}.{ext}"}
    assert got["GET /images/alogo.gif"] == "GET /images/{name}.gif"               # one extension stays literal
    assert got["GET /images/"] == "GET /images/" and got["GET /images/{id}"] == "GET /images/{id}"
    assert got["GET /api/users"] == "GET /api/users"
    # the first segment is never a parameter, however many values it has
    roots = [f"GET /{c}{d}" for c in "abcdef" for d in "xyz"]
    assert propose(roots, 10) == {k: k for k in roots}


def test_deeper_segments_under_a_parameter_are_mined_too():
    keys = [f"GET /erddap/info/{c}{d}/index.html" for c in "abcdef" for d in "xy"]
    assert set(propose(keys, 10).values()) == {"GET /erddap/info/{name}/index.html"}


def test_a_stored_route_moves_whole_or_not_at_all():
    rules = MiningRules(param_min_values=3, min_requests=1, max_per_api=50)
    stats = {"GET /a/x.csv": PathStat(5, 0, "GET /a/x.csv"), "GET /a/y.csv": PathStat(5, 0, None),
             "GET /a/z.csv": PathStat(5, 0, None)}
    m = mine(stats, rules)
    assert m.routes == dict.fromkeys(stats, "GET /a/{name}.csv")
    assert m.merges == {"GET /a/x.csv": "GET /a/{name}.csv"}
    # a stored route whose keys would go different ways stays what it is
    stats = {"GET /a/x.csv": PathStat(5, 0, "R"), "GET /b/q": PathStat(5, 0, "R")}
    assert mine(stats, rules).routes == dict.fromkeys(stats, "R") and not mine(stats, rules).merges


# ---- through ingest -----------------------------------------------------------------------------

def test_a_data_api_log_gives_routes_in_the_tens(tmp_path):
    uri = write(tmp_path, "erddap.log", data_api_log())
    before = load(tmp_path, "before.duckdb", [uri], Settings(ingest_tail_wait_s=0, route_mining=False))
    after = load(tmp_path, "after.duckdb", [uri])
    n_before, got = len(routes_of(before)), routes_of(after)
    assert n_before > 2000                                   # every dataset and format a route of its own
    assert 8 <= len(got) <= 20, sorted(got)
    assert {"GET /erddap/tabledap/{name}.{ext}", "GET /erddap/griddap/{name}.{ext}", "GET /erddap/info/{name}/index.html",
            "GET /erddap/images/{name}.gif", "GET /erddap/index.html", "GET /", "POST /erddap/login.html",
            "GET {other}"} <= set(got)
    assert not [r for r in got if any(s in r for s in ("wp-login", ".env", "cgi-bin", "phpmyadmin"))]   # scanners
    assert sum(got.values()) == sum(routes_of(before).values()) == 6000
    consistent(after)
    before.close()
    after.close()


def test_the_cap_is_a_setting(tmp_path):
    uri = write(tmp_path, "erddap.log", data_api_log(lines=3000))
    con = load(tmp_path, "x.duckdb", [uri], Settings(ingest_tail_wait_s=0, route_max_per_api=3))
    got = routes_of(con)
    assert len([r for r in got if not r.endswith("{other}")]) == 3
    assert set(r for r in got if r.endswith("{other}")) == {"GET {other}", "POST {other}"}
    assert sum(got.values()) == 3000
    consistent(con)
    con.close()


def test_a_route_map_still_wins(tmp_path):
    rm = tmp_path / "routes.yaml"
    rm.write_text("routes:\n  - GET /erddap/tabledap/{dataset}.csv\n  - GET /wp-login.php\n")
    uri = write(tmp_path, "erddap.log", data_api_log(lines=3000))
    con = connect(tmp_path / "x.duckdb")
    ingest(con, [uri], Settings(ingest_tail_wait_s=0), route_map=rm)
    got = routes_of(con)
    assert "GET /erddap/tabledap/{dataset}.csv" in got and "GET /wp-login.php" in got   # given: kept, even 404-only
    # mined only where no given template matched: the other formats of the same datasets
    assert "GET /erddap/tabledap/{name}.{ext}" in got
    assert not run(con, "SELECT count(*) FROM route_paths WHERE path LIKE '%.csv' AND path LIKE '%tabledap%'")[0][0]
    con.close()


def test_a_later_load_remaps_stored_routes_and_totals_stay(tmp_path):
    rng = random.Random(3)
    names = [word(rng) for _ in range(40)]
    first = [clf(f"/data/{names[i % 4]}.csv", i) for i in range(200)]                  # 4 datasets: literal routes
    second = [clf(f"/data/{names[4 + i % 36]}.{('csv', 'nc')[i % 2]}", 1000 + i) for i in range(400)]
    a, b = write(tmp_path, "a.log", first), write(tmp_path, "b.log", second)
    con = load(tmp_path, "x.duckdb", [a])
    assert len(routes_of(con)) == 4
    ingest(con, [b], Settings(ingest_tail_wait_s=0))
    assert routes_of(con) == {"GET /data/{name}.{ext}": 600}                              # the first load's rows moved
    assert run(con, "SELECT DISTINCT route FROM requests") == [("GET /data/{name}.{ext}",)]
    consistent(con)
    # loaded in the other order, or together, the same routes and totals
    for order in ([b, a], [a, b]):
        other = load(tmp_path, f"o{len(order)}{order[0][-5]}.duckdb", order)
        assert routes_of(other) == {"GET /data/{name}.{ext}": 600}
        other.close()
    # forget after the remap is exact: the second load's rows go, the first's stay under the template
    rep = forget(con, b)
    assert rep.requests == 400
    assert routes_of(con) == {"GET /data/{name}.{ext}": 200}
    consistent(con)
    forget(con, a)
    assert routes_of(con) == {} and run(con, "SELECT count(*) FROM route_paths")[0][0] == 0
    con.close()


def test_totals_per_api_never_change_and_other_is_only_merged_into(tmp_path):
    """Loads in small pieces: every remap (parameters, {other}, the cap) keeps each API's totals."""
    lines = data_api_log(seed=11, lines=3000)
    uris = [write(tmp_path, f"part{k}.log", lines[k * 500:(k + 1) * 500]) for k in range(6)]
    con = connect(tmp_path / "x.duckdb")
    loaded = 0
    for u in uris:
        ingest(con, [u], Settings(ingest_tail_wait_s=0, route_max_per_api=8))
        loaded += 500
        assert sum(routes_of(con).values()) == loaded
        consistent(con)
    got = routes_of(con)
    assert len([r for r in got if not r.endswith("{other}")]) <= 8
    con.close()


def test_mining_can_be_turned_off(tmp_path):
    uri = write(tmp_path, "a.log", [clf(f"/images/p{c}.gif", i) for i, c in enumerate("abcdefghijklmn")])
    on = load(tmp_path, "on.duckdb", [uri])
    off = load(tmp_path, "off.duckdb", [uri], Settings(ingest_tail_wait_s=0, route_mining=False))
    assert set(routes_of(on)) == {"GET /images/{name}.gif"}
    assert len(routes_of(off)) == 14
    on.close()
    off.close()


@pytest.mark.parametrize("fmt_line", [
    '{"requestId":"r%d","requestTime":"22/Nov/2026:05:00:%02d +0000","httpMethod":"GET",'
    '"resourcePath":"/files/{name}","path":"/files/f%d.txt","status":"200"}\n',
])
def test_logged_templates_are_never_mined(tmp_path, fmt_line):
    uri = write(tmp_path, "rest.json", [fmt_line % (i, i % 60, i) for i in range(30)])
    con = load(tmp_path, "x.duckdb", [uri])
    assert routes_of(con) == {"GET /files/{name}": 30}
    assert run(con, "SELECT count(*) FROM route_paths")[0][0] == 0
    con.close()


def test_a_source_in_several_chunks_maps_like_one(tmp_path):
    """Templates widen between chunks of one load: the earlier chunks' rows are moved at its end."""
    uri = write(tmp_path, "erddap.log", data_api_log(seed=5, lines=24000))
    many = load(tmp_path, "many.duckdb", [uri], Settings(ingest_tail_wait_s=0, ingest_chunk_mb=1))
    one = load(tmp_path, "one.duckdb", [uri])
    assert run(many, "SELECT count(*) FROM sources")[0][0] == 1
    assert routes_of(many) == routes_of(one) and len(routes_of(one)) <= 20
    consistent(many)
    many.close()
    one.close()


def test_remapping_works_on_rollups_alone(tmp_path):
    """With raw rows not kept (retention 0), stored rollups are still merged into the new template."""
    rng = random.Random(4)
    names = [word(rng) for _ in range(30)]
    settings = Settings(ingest_tail_wait_s=0, retention_raw_days=0)
    a = write(tmp_path, "a.log", [clf(f"/d/{names[i % 3]}.csv", i) for i in range(90)])
    b = write(tmp_path, "b.log", [clf(f"/d/{names[3 + i % 27]}.csv", 500 + i) for i in range(270)])
    con = load(tmp_path, "x.duckdb", [a], settings)
    assert len(routes_of(con)) == 3
    ingest(con, [b], settings)
    assert routes_of(con) == {"GET /d/{name}.csv": 360}
    assert run(con, "SELECT count(*) FROM requests")[0][0] == 0
    con.close()


def test_fits_agrees_with_propose():
    from forecaster.ingest.route_mining import fits

    keys = ([f"GET /t/{c}x.{e}" for c in "abcdefghijkl" for e in ("csv", "nc")] + [f"GET /g/{c}y.gif" for c in "abcdefghijkl"]
            + [f"GET /i/{c}z/index.html" for c in "abcdefghijkl"] + [f"GET /n/{c}w" for c in "abcdefghijkl"])
    got = propose(keys, 10)
    for key, route in got.items():
        assert fits(route, key)
        assert not any(fits(other, key) for other in set(got.values()) - {route})
    assert fits("GET /t/{name}.{ext}", "GET /t/new.json") and not fits("GET /g/{name}.gif", "GET /g/new.png")
    assert not fits("GET /n/{name}", "GET /n/new.csv") and not fits("GET /n/{name}", "GET /n/{id}")
    assert not fits("GET /t/{name}.{ext}", "POST /t/new.json")


def test_a_new_path_joins_its_stored_template_without_mining(tmp_path, monkeypatch):
    from forecaster.ingest import mined_routes

    rng = random.Random(8)
    a = write(tmp_path, "a.log", [clf(f"/t/{word(rng)}.csv", i) for i in range(40)])
    b = write(tmp_path, "b.log", [clf(f"/t/{word(rng)}.csv", 100 + i) for i in range(5)])
    con = load(tmp_path, "x.duckdb", [a])
    calls = []
    monkeypatch.setattr(mined_routes, "mine", lambda *a: calls.append(1) or pytest.fail("mined again"))
    ingest(con, [b], Settings(ingest_tail_wait_s=0))
    assert routes_of(con) == {"GET /t/{name}.csv": 45} and not calls
    consistent(con)
    con.close()
