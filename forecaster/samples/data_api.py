"""A seeded data-API access log (CLF) like ERDDAP's, the case route mining is for.

Thousands of datasets in many formats (``/erddap/tabledap/<dataset>.<ext>``), a few pages, images,
a login form, and scanners probing for paths that exist on no server (``/wp-login.php``, ``/.env``,
``/cgi-bin/<x>.cgi``), each answered 404. Without templates in the log, the heuristics alone make
every dataset and format a route of its own.
"""

from __future__ import annotations

import random

SCANNERS = ("/wp-login.php", "/.env", "/xmlrpc.php", "/.git/config", "/phpmyadmin/index.php", "/admin/config.php",
            "/cgi-bin/luci", "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php", "/boaform/admin/formLogin",
            "/actuator/health", "/owa/auth/logon.aspx", "/solr/admin/info/system", "/.aws/credentials")
EXTS = ("csv", "nc", "json", "htmlTable", "png", "das")


def clf(path: str, i: int, method: str = "GET", status: int = 200) -> str:
    """One CLF line, second ``i`` of 2026-11-22 05:00 UTC onwards."""
    return (f'198.51.100.{i % 250} - - [22/Nov/2026:{5 + i // 3600 % 12:02d}:{i // 60 % 60:02d}:{i % 60:02d} +0000] '
            f'"{method} {path} HTTP/1.1" {status} {100 + i % 900}\n')


def word(rng: random.Random, n: int = 9) -> str:
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(n))


def data_api_log(seed: int = 7, lines: int = 6000, datasets: int = 1500) -> list[str]:
    """``lines`` CLF lines of a data API (see the module docstring), the same for the same seed."""
    rng = random.Random(seed)
    names = [word(rng) for _ in range(datasets)]
    gifs = [word(rng, 6) for _ in range(25)]
    out = []
    for i in range(lines):
        r = rng.random()
        if r < 0.55:
            p = f"/erddap/tabledap/{rng.choice(names)}.{rng.choice(EXTS)}?time,sst&time>=2026-11-01"
        elif r < 0.70:
            p = f"/erddap/griddap/{rng.choice(names)}.{rng.choice(EXTS)}"
        elif r < 0.78:
            p = f"/erddap/info/{rng.choice(names)}/index.html"
        elif r < 0.86:
            p = f"/erddap/images/{rng.choice(gifs)}.gif"
        elif r < 0.93:
            p = rng.choice(["/", "/erddap/index.html", "/erddap/search/index.html?searchFor=sst", "/robots.txt"])
        elif r < 0.95:
            out.append(clf("/erddap/login.html", i, method="POST"))
            continue
        else:
            p = rng.choice(SCANNERS) if rng.random() < 0.6 else f"/cgi-bin/{word(rng, 5)}.cgi"
            out.append(clf(p, i, status=404))
            continue
        out.append(clf(p, i))
    return out
