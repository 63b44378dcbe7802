"""Formats declared in the config (a regex with named groups, or a JSON field mapping), no code needed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

from ...errors import ConfigError

if TYPE_CHECKING:
    from ...config import CustomFormat
from .base import CANONICAL, LogFormat, all_formats, json_select, regex_select, register, ts_any, ts_strptime, unregister
from .detect import bounded_regex_share, json_share

_declared: set[str] = set()


def register_custom_formats(formats: Mapping[str, CustomFormat]) -> None:
    """(Re-)register the config's custom formats; a name clashing with a built-in is refused."""
    problems = []
    for name in list(_declared):
        unregister(name)
        _declared.discard(name)
    builtins = set(all_formats())
    for name, cf in formats.items():
        if name in builtins:
            problems.append(f"custom format {name!r} clashes with a built-in format")
            continue
        fields = dict(cf.json_fields or {}) if cf.json_fields else None
        unknown = [k for k in (fields or {}) if k not in CANONICAL]
        if unknown:
            problems.append(f"custom format {name!r}: unknown field(s) {unknown}; known: {', '.join(CANONICAL)}")
            continue
        ts = ts_strptime(cf.ts_format) if cf.ts_format else ts_any
        if cf.regex and not fields:
            import re

            from ...store.regex import re2_error

            why = re2_error(cf.regex)
            if why:   # the pattern runs in DuckDB: RE2 has no lookaround or backreference
                problems.append(f"custom format {name!r}: the regex is not valid for RE2, the engine that runs it: {why}")
                continue
            rx = re.compile(cf.regex)
            groups = {g: g for g in rx.groupindex if g in CANONICAL}
            if "ts" not in groups:
                problems.append(f"custom format {name!r}: the regex needs a named group 'ts'")
                continue
            try:
                sel = regex_select(cf.regex, groups, f"custom format {name}", required="ts", constants=cf.defaults)
            except ValueError as e:
                problems.append(f"custom format {name!r}: {e}")
                continue
            pattern = cf.regex
            detect = lambda lines, p=pattern: bounded_regex_share(lines, p) * 0.9  # noqa: E731
        elif fields:
            if "ts" not in fields:
                problems.append(f"custom format {name!r}: json_fields needs 'ts'")
                continue
            sel = json_select({k: (v,) for k, v in fields.items()}, cf.defaults)
            keys = tuple(fields.values())
            detect = lambda lines, k=keys: json_share(lines, tuple((x,) for x in k)) * 0.9  # noqa: E731
        else:
            problems.append(f"custom format {name!r}: give either 'regex' or 'json_fields'")
            continue
        register(LogFormat(name=name, description="custom format from the config", select_sql=sel,
                           detect=detect, ts_sql=ts, api_type=cf.defaults.get("api_type", "web")))
        _declared.add(name)
    if problems:
        raise ConfigError("; ".join(problems))
