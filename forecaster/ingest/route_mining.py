"""Route templates mined from the traffic itself, for logs that carry none (nginx, Apache, ALB, Kong, Envoy).

The heuristics of :mod:`.routes` turn ids, UUIDs and tokens into ``{id}``; every other distinct path
would still be a route of its own (a data API's ``/erddap/tabledap/<dataset>.<ext>`` alone gives
thousands). This module groups those *path keys* ('GET /erddap/tabledap/sst.csv') further, per API:

- **parameters**: under the same method and prefix, a segment position (not the first) with at least
  ``param_min_values`` distinct values becomes ``{name}``; where such a last segment carries a file
  extension, one extension stays literal (``/images/{name}.gif``) and several become ``{ext}``
  (``/erddap/tabledap/{name}.{ext}``);
- **{other}**: a route whose every request was a 404 and that holds no ``{id}`` (scanners probing
  ``/wp-login.php``, ``/.env``, ``/cgi-bin/...``) falls into its API's ``METHOD {other}`` bucket;
- **cap**: when an API has more than ``max_per_api`` routes, those with fewer than ``min_requests``
  requests go to ``{other}`` too, and so do the least busy beyond the ``max_per_api`` busiest.
  A small log keeps every route it has.

Everything here is pure: path keys with their counts and current routes in, routes out. It never
splits a stored route: a route already holding rows either moves whole into a new one (a *merge*,
which the store applies to its rows) or stays as it is; rows already counted in ``{other}`` stay
there (the buckets are only ever merged into, never split, so no row's route depends on rows a
later load brings).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass

from ..config import Settings
from .routes import HTTP_METHODS

PARAM = "{name}"
EXT_PARAM = "{ext}"
OTHER = "{other}"
_EXT = re.compile(r"[A-Za-z0-9]{0,7}[A-Za-z][A-Za-z0-9]{0,7}")


@dataclass(frozen=True)
class MiningRules:
    param_min_values: int = 10     # distinct values that make a segment position a parameter
    min_requests: int = 2          # routes with fewer requests go to {other}
    max_per_api: int = 50          # routes kept per API (its {other} buckets besides)

    @classmethod
    def of(cls, settings: Settings) -> MiningRules:
        return cls(settings.route_param_min_values, settings.route_min_requests, settings.route_max_per_api)


@dataclass
class PathStat:
    """One path key of an API: requests and 404s seen (in everything stored and this load), and the
    route its stored rows carry (None when new)."""

    requests: int
    not_found: int = 0
    route: str | None = None


@dataclass(frozen=True)
class Mined:
    routes: dict[str, str]     # path key -> route
    merges: dict[str, str]     # stored route -> the route its rows move to


def other_of(route: str) -> str:
    """The ``{other}`` bucket a route of this method falls into ('GET {other}'; 'ANY {other}' for odd methods)."""
    method = route.split(" ", 1)[0]
    return f"{method if method in HTTP_METHODS else 'ANY'} {OTHER}"


def is_other(route: str | None) -> bool:
    return route is not None and route.endswith(" " + OTHER)


def propose(keys: list[str], param_min_values: int) -> dict[str, str]:
    """The template each path key ('GET /a/b.csv') falls under, from the keys' shapes alone."""
    by_method: dict[str, list[tuple[list[str], str]]] = defaultdict(list)
    for key in keys:
        method, _, path = key.partition(" ")
        segs = path.split("/")[1:] if path.startswith("/") else [path]
        by_method[method].append((segs, key))
    out: dict[str, str] = {}
    for method, items in by_method.items():
        _walk(items, 0, [], method, param_min_values, out)
    return out


def _template(method: str, prefix: list[str]) -> str:
    return f"{method} /" + "/".join(prefix)


def _walk(items: list[tuple[list[str], str]], depth: int, prefix: list[str], method: str, k: int,
          out: dict[str, str]) -> None:
    groups: dict[str, list[tuple[list[str], str]]] = defaultdict(list)
    for segs, key in items:
        if len(segs) == depth:
            out[key] = _template(method, prefix)
        else:
            groups[segs[depth]].append((segs, key))
    # '' (a trailing slash) and templates the heuristics made ('{id}') are never values of a parameter
    values = [v for v in groups if v and not v.startswith("{")]
    if depth == 0 or len(values) < k:
        for v in sorted(groups):
            _walk(groups[v], depth + 1, prefix + [v], method, k, out)
        return
    for v in sorted(set(groups) - set(values)):
        _walk(groups[v], depth + 1, prefix + [v], method, k, out)
    members = [it for v in values for it in groups[v]]
    leaves = [(segs, key) for segs, key in members if len(segs) == depth + 1]
    with_ext: list[str] = []
    exts: set[str] = set()
    for segs, key in leaves:
        name, dot, ext = segs[depth].rpartition(".")
        if dot and name and _EXT.fullmatch(ext):
            with_ext.append(key)
            exts.add(ext)
        else:
            out[key] = _template(method, prefix + [PARAM])
    ext_part = EXT_PARAM if len(exts) > 1 else next(iter(exts), "")
    for key in with_ext:
        out[key] = _template(method, prefix + [f"{PARAM}.{ext_part}"])
    deeper = [(segs, key) for segs, key in members if len(segs) > depth + 1]
    if deeper:
        _walk(deeper, depth + 1, prefix + [PARAM], method, k, out)


def _has_ext(value: str) -> str | None:
    name, dot, ext = value.rpartition(".")
    return ext if dot and name and _EXT.fullmatch(ext) else None


def fits(route: str, key: str) -> bool:
    """Whether path key ``key`` is one :func:`propose` would put under the mined template ``route``."""
    rm, _, rpath = route.partition(" ")
    km, _, kpath = key.partition(" ")
    rsegs, ksegs = rpath.split("/"), kpath.split("/")
    if rm != km or len(rsegs) != len(ksegs):
        return False
    last = len(rsegs) - 1
    for i, (r, k) in enumerate(zip(rsegs, ksegs)):
        if r == k and not r.startswith(PARAM):
            continue
        if not r.startswith(PARAM) or not k or k.startswith("{"):
            return False
        ext = _has_ext(k) if i == last else None
        if r == PARAM:
            if ext is not None:
                return False
        elif ext is None or r[len(PARAM) + 1:] not in (ext, EXT_PARAM):
            return False
    return True


def mine(stats: dict[str, PathStat], rules: MiningRules) -> Mined:
    """Routes for every path key of one API, and the stored routes that move whole into new ones."""
    proposed = propose(sorted(stats), rules.param_min_values)
    # A stored route moves only whole: when its keys would go different ways, it stays.
    members: dict[str, list[str]] = defaultdict(list)
    for key, st in stats.items():
        if st.route is not None and not is_other(st.route):
            members[st.route].append(key)
    for route, keys in members.items():
        targets = {proposed[k] for k in keys}
        target = targets.pop() if len(targets) == 1 else route
        for k in keys:
            proposed[k] = target
    totals: Counter[str] = Counter()
    not_found: Counter[str] = Counter()
    for key, st in stats.items():
        totals[proposed[key]] += st.requests
        not_found[proposed[key]] += st.not_found
    # Paths that exist on no server: every request a 404, and no id in them (an id says a client of
    # the API built the path, for an object that may be gone; scanners probe fixed paths).
    final = {r: other_of(r) for r, n in totals.items()
             if n and not_found[r] >= n and "{id}" not in r and not is_other(r)}
    live = [r for r in totals if not is_other(r) and r not in final]
    if len(live) > rules.max_per_api:   # too many: the rare go first, then the least busy
        final.update({r: other_of(r) for r in live if totals[r] < rules.min_requests})
        live = [r for r in live if r not in final]
    live.sort(key=lambda r: (-totals[r], r))
    for route in live[rules.max_per_api:]:
        final[route] = other_of(route)
    routes = {key: final.get(p, p) for key, p in proposed.items()}
    merges: dict[str, str] = {}
    for key, st in stats.items():
        if st.route is not None and not is_other(st.route) and routes[key] != st.route:
            merges[st.route] = routes[key]
    return Mined(routes, merges)
