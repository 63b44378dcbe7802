"""Helpers for format detection from sample lines (pure Python; runs on ~50 lines per source)."""

from __future__ import annotations

import re
from typing import Callable, Iterable

import orjson


def json_objects(lines: Iterable[str]) -> list[dict | None]:
    out: list[dict | None] = []
    for ln in lines:
        if ln.lstrip(" \t\r\n")[:1] != "{":   # not an object: skip the parse (a failed one costs ~2 us)
            out.append(None)
            continue
        try:
            v = orjson.loads(ln)
        except orjson.JSONDecodeError:
            out.append(None)
            continue
        out.append(v if isinstance(v, dict) else None)
    return out


def share(lines: list[str], pred: Callable[[str], bool]) -> float:
    """Fraction of sample lines satisfying ``pred`` (0 for no lines)."""
    return sum(1 for ln in lines if pred(ln)) / len(lines) if lines else 0.0


def _has(obj: dict, flat: set[str], key: str) -> bool:
    """``key`` is a top-level or one-level-down key, or a dotted path (``svc.name``) that resolves."""
    if key in flat:
        return True
    if "." not in key:
        return False
    v: object = obj
    for part in key.split("."):
        if not isinstance(v, dict) or part not in v:
            return False
        v = v[part]
    return True


def json_share(lines: list[str], required_any: tuple[tuple[str, ...], ...], bonus: tuple[str, ...] = (),
               absent: tuple[str, ...] = ()) -> float:
    """Score JSON lines: each object must have one key of every group in ``required_any``.

    Keys one level down count too (``{"request": {"method": ...}}`` has ``method``), and dotted
    paths are followed. An object holding any key of ``absent`` is not a hit (it belongs to a
    sibling format).
    """
    objs = json_objects(lines)
    if not objs:
        return 0.0
    hits = 0.0
    for o in objs:
        if o is None:
            continue
        flat = set(o)
        for v in o.values():
            if isinstance(v, dict):
                flat |= set(v)
        if any(_has(o, flat, k) for k in absent):
            continue
        if all(any(_has(o, flat, k) for k in group) for group in required_any):
            hits += 0.9 + 0.1 * (sum(_has(o, flat, k) for k in bonus) / len(bonus) if bonus else 1)
    return hits / len(objs)


def regex_share(lines: list[str], pattern: str) -> float:
    rx = re.compile(pattern)
    return share(lines, lambda ln: rx.fullmatch(ln) is not None)


DETECT_BUDGET_S = 0.5   # a configured pattern gets this long over the whole sample


def bounded_regex_share(lines: list[str], pattern: str, budget_s: float = DETECT_BUDGET_S) -> float:
    """:func:`regex_share` for a pattern from the config, in bounded time: Python's backtracking
    engine can take exponential time on a pattern RE2 runs linearly ('(a+)+b'); past the budget the
    pattern scores what it matched so far over the whole sample."""
    import time

    import regex

    rx = regex.compile(pattern)
    deadline = time.monotonic() + budget_s
    hits = 0
    for ln in lines:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        try:
            hits += rx.fullmatch(ln, timeout=left) is not None
        except TimeoutError:
            break
    return hits / len(lines) if lines else 0.0
