"""Mined route templates applied while a source loads, inside its transaction.

Per chunk, before its rows are stored or folded: the chunk's path keys (rows whose route the
heuristics made, ``_mine``) are counted; a new key that fits one stored template joins it; when a
new key fits none, or a key in an ``{other}`` bucket is asked for again (not only by 404s), its API
is mined again (:func:`.route_mining.mine`) over every path key the store knows
plus what this load brought so far, and ``route_paths`` is updated. The chunk's rows then take the
routes ``route_paths`` maps their keys to, so a load's rows are stored and folded under their final
routes at once — mining works on distinct keys, never on rows. At the end of the source, its
counts are recorded and any stored route that mining moved whole into another is merged into it
(rows in ``requests``, ``source_counts`` and ``traffic_1m``), in the same transaction: totals per
API never change, and a rolled-back load leaves templates and rows as they were.
"""

from __future__ import annotations

from collections import defaultdict

from ..config import Settings
from ..store import route_paths as store_routes
from ..store.db import Connection, Relation
from .route_mining import MiningRules, PathStat, fits, is_other, mine


class MinedRoutes:
    """One source load's route mining: its path counts and the merges it decided."""

    def __init__(self, source_id: int, settings: Settings):
        self.source_id = source_id
        self.enabled = settings.route_mining
        self.rules = MiningRules.of(settings)
        self.counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
        self.merges: dict[tuple[str, str], str] = {}     # (api, stored route) -> route its rows move to

    def apply(self, con: Connection, parsed: Relation, where: str) -> Relation:
        """``parsed`` with mined routes in place of its path keys (unchanged when it has none)."""
        if not self.enabled:
            return parsed
        rows = store_routes.chunk_paths(parsed, where)
        if not rows:
            return parsed
        remine: set[str] = set()
        new: dict[str, list[str]] = defaultdict(list)
        now: dict[tuple[str, str], str | None] = {}
        for api, path, n, nf, route in rows:
            c = self.counts[(api, path)]
            c[0] += n
            c[1] += nf
            now[(api, path)] = route
            if route is None:
                new[api].append(path)
            elif is_other(route) and n > nf:    # asked for again, and not only by scanners: it may leave {other}
                remine.add(api)
        for api, paths in sorted(new.items()):
            joined = None if api in remine else self._join(con, api, paths)
            if joined is None:
                remine.add(api)
            else:
                now.update({(api, p): r for p, r in joined.items()})
        for api in sorted(remine):
            routes = self._mine(con, api)
            now.update({(api, p): routes[p] for a, p in now if a == api})
        if all(route == key[1] for key, route in now.items()):
            return parsed            # every key is its own route (most chunks of a small API): nothing to map
        return store_routes.mapped(parsed)

    def _join(self, con: Connection, api: str, paths: list[str]) -> dict[str, str] | None:
        """New path keys that each fit exactly one stored template join it without mining again
        (an API with a long tail brings new keys in most loads); None when one does not."""
        templates = store_routes.templates(con, api)
        out = {}
        for path in paths:
            fit = [t for t in templates if fits(t, path)]
            if len(fit) != 1:
                return None
            out[path] = fit[0]
        store_routes.set_routes(con, api, sorted(out.items()))
        return out

    def _mine(self, con: Connection, api: str) -> dict[str, str]:
        stats = {path: PathStat(n, nf, route) for path, n, nf, route in store_routes.api_paths(con, api)}
        for (a, path), (n, nf) in self.counts.items():
            if a != api:
                continue
            st = stats.setdefault(path, PathStat(0))
            st.requests += n
            st.not_found += nf
        mined = mine(stats, self.rules)
        store_routes.set_routes(con, api, [(p, r) for p, r in sorted(mined.routes.items()) if stats[p].route != r])
        for old, new in mined.merges.items():
            # rows an earlier chunk of this load moved to ``old`` move on to ``new`` with it
            for key, target in list(self.merges.items()):
                if key[0] == api and target == old:
                    self.merges[key] = new
            self.merges[(api, old)] = new
        for key, target in list(self.merges.items()):
            if key[1] == target:
                del self.merges[key]
        return mined.routes

    def finish(self, con: Connection) -> int:
        """Record this source's path counts and merge the stored routes mining moved; the rollup rows moved."""
        if not self.counts:
            return 0
        store_routes.add_counts(con, self.source_id, [(a, p, n, nf) for (a, p), (n, nf) in sorted(self.counts.items())])
        return store_routes.merge_routes(con, [(a, old, new) for (a, old), new in sorted(self.merges.items())])
