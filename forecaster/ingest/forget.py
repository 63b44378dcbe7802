"""Forgetting a source: its rows, rejects and rollup contributions go, exactly, in one transaction.

The way back from a wrong ``--format`` (a source recorded as loaded with every line rejected) or
a file that should never have been loaded: forget it, then load it again.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import BadInput, NotFound
from ..store import llm as store_llm
from ..store import route_paths as store_route_paths
from ..store import sources as store_sources
from ..store.db import run, transaction
from . import llm, rollups
from .formats import all_formats


@dataclass
class ForgetReport:
    source_ids: list[int] = field(default_factory=list)
    requests: int = 0
    rejects: int = 0
    count_rows: int = 0
    rollup_rows_removed: int = 0
    rollup_rows_rebuilt: int = 0
    llm_calls: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def forget(con, key: str) -> ForgetReport:
    """Forget the source with id ``key``, or every load of the path/URI ``key``, and every load that
    continues one of them (a grown file's later loads: their bytes start where these end).

    Rollup minutes they touched are rebuilt from the requests and count rows that remain, so the
    rollups are what they would be had these sources never been loaded. Refused when retention
    has removed some of their raw rows (their contribution can no longer be told apart).
    """
    ids = store_sources.resolve(con, key)
    if not ids and not key.isdigit() and "://" not in key:
        ids = store_sources.resolve(con, os.path.abspath(key))
    if not ids:
        raise NotFound(f"no source {key!r}: expected a source id or a loaded path/URI (see `forecaster sources list`)")
    ids = store_sources.with_descendants(con, ids)
    pruned = store_sources.pruned_raw_rows(con, ids)
    calls_only = {n for n, f in all_formats().items() if not f.requests}   # model-call logs: no raw requests
    pruned = [i for i, f in store_llm.source_formats(con, pruned).items() if f not in calls_only]
    if pruned:
        raise BadInput(f"source(s) {', '.join(map(str, pruned))}: retention removed some of their raw requests, "
                       "so their rollup contribution cannot be removed exactly")
    with transaction(con):
        n = store_sources.forget(con, ids)
        store_route_paths.forget(con, ids)
        rebuilt = rollups.rebuild_keys(con, store_sources.FORGET_KEYS)
        run(con, f"DROP TABLE {store_sources.FORGET_KEYS}")
        calls = store_llm.forget_sources(con, ids)
        llm.refresh(con)
    return ForgetReport(source_ids=ids, requests=n["requests"], rejects=n["rejects"], count_rows=n["source_counts"],
                        rollup_rows_removed=n["rollup_rows"], rollup_rows_rebuilt=rebuilt,
                        llm_calls=calls)
