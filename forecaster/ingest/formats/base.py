"""The log-format protocol and its registry.

A format turns a relation ``lines(line_no BIGINT, line VARCHAR)`` into the *raw canonical
columns* below, all VARCHAR (NULL when the log does not carry them), plus ``parse_error`` (a
reason when the line is not of this format). A format may leave out a line it skips on purpose
(the counts format's CSV header); every other line must come out, as a row or with a reason.
Lines arrive with their terminator (``\n`` or ``\r\n``) still attached. Everything runs as SQL inside DuckDB, so a format
is a few lines of SQL, not a Python loop per line. Typing, validation, route templating and
dedupe keys are done once for all formats by :mod:`forecaster.ingest.normalize`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Callable

from ...registry import Registry

# The raw canonical columns a format's SELECT must produce (besides line_no, line, parse_error).
CANONICAL = (
    "ts",                      # timestamp text, parsed with the format's ts_sql
    "api", "api_type", "stage",
    "route",                   # a template when the log has one (resourcePath, routeKey); else NULL
    "method", "path",          # used to derive the route when there is no template
    "status", "latency_ms", "integration_latency_ms", "bytes_out",
    "region", "client", "request_id",
    "requests",                # counts format only: how many requests this row stands for
)


def sql_str(s: str) -> str:
    """A SQL string literal."""
    return "'" + s.replace("'", "''") + "'"


@dataclass(frozen=True)
class LogFormat:
    """A registered log format.

    ``select_sql`` gets the name of the lines relation and returns a SELECT producing
    ``line_no, line, parse_error`` and every name in :data:`CANONICAL`.
    ``ts_sql`` turns the raw ``ts`` text (the SQL expression given) into a UTC TIMESTAMP, NULL if bad.
    ``detect`` scores a list of sample lines (0 = not this format, 1 = certainly this format).
    """

    name: str
    description: str
    select_sql: Callable[[str], str]
    detect: Callable[[list[str]], float]
    ts_sql: Callable[[str], str]
    api_type: str = "web"
    aggregated: bool = False        # rows are pre-aggregated counts (go straight to the rollups)
    header: bool = False            # the source's first line is a header every chunk needs (CSV)
    # Model-call (LLM) logs: a SELECT over the lines giving token columns (see ingest/llm.py), and
    # whether the lines are also gateway requests (Kong AI Proxy) or only model calls (Bedrock).
    tokens: Callable[[str], str] | None = None
    requests: bool = True
    examples: tuple[str, ...] = field(default_factory=tuple)


FORMATS: Registry[LogFormat] = Registry("log format")


def register(fmt: LogFormat) -> LogFormat:
    return FORMATS.register(fmt.name, fmt)


def get_format(name: str) -> LogFormat:
    return FORMATS.get(name)


def all_formats() -> dict[str, LogFormat]:
    return FORMATS.as_dict()


def unregister(name: str) -> None:
    """Remove a format (used for config-declared formats that are re-registered per run)."""
    FORMATS.unregister(name)


# ---- timestamp helpers shared by formats ---------------------------------------------------

def ts_clf(x: str) -> str:
    """'10/Oct/2000:13:55:36 -0700' (CLF, API Gateway $context.requestTime) -> UTC TIMESTAMP."""
    return f"TRY(strptime({x}, '%d/%b/%Y:%H:%M:%S %z'))::TIMESTAMP"


def ts_iso(x: str) -> str:
    """ISO 8601 with or without offset (no offset means UTC) -> UTC TIMESTAMP."""
    return f"TRY_CAST({x} AS TIMESTAMPTZ)::TIMESTAMP"


def ts_epoch_auto(x: str) -> str:
    """Epoch seconds, milliseconds or microseconds (by magnitude), possibly fractional."""
    v = f"TRY_CAST({x} AS DOUBLE)"
    return (
        f"(CASE WHEN {v} IS NULL OR NOT isfinite({v}) THEN NULL "
        f"WHEN abs({v}) >= 1e14 THEN TRY(make_timestamp(({v})::BIGINT)) "
        f"WHEN abs({v}) >= 1e11 THEN TRY(make_timestamp(({v} * 1000)::BIGINT)) "
        f"ELSE TRY(make_timestamp(({v} * 1000000)::BIGINT)) END)"
    )


def ts_any(x: str) -> str:
    """Try ISO 8601, then epoch numbers, then CLF."""
    return f"coalesce({ts_iso(x)}, {ts_epoch_auto(x)}, {ts_clf(x)})"


def ts_strptime(fmt: str) -> Callable[[str], str]:
    def f(x: str) -> str:
        tz = "%z" in fmt or "%Z" in fmt
        expr = f"TRY(strptime({x}, {sql_str(fmt)}))"
        return f"{expr}::TIMESTAMP" if tz else expr
    return f


def json_select(keys: dict[str, tuple[str, ...]], constants: dict[str, str] | None = None) -> Callable[[str], str]:
    """A SELECT for JSON-lines formats: canonical column -> candidate JSON keys (first non-null wins).

    Keys may be dotted paths (``identity.sourceIp``) for nested objects. Every value is read as
    text, so a number where a string is expected (or the reverse) is typed later, with a reason.
    """
    constants = constants or {}
    paths = sorted({k for ks in keys.values() for k in ks})
    tree = _key_tree(paths)
    if tree is not None:
        # One pass over each object's keys (json_transform into a struct of every candidate key)
        # costs about half of looking every candidate path up on its own.
        spec = sql_str(json.dumps(tree))
        value = {k: "_v." + ".".join(_sql_ident(p) for p in k.split(".")) for k in paths}
        parse = f"TRY(json_transform(line, {spec}))"
        nothing = " AND ".join(f"{value[k]} IS NULL" for k in paths)
        malformed = "_v IS NULL AND TRY(json_type(line)) IS DISTINCT FROM 'NULL'"
    else:   # a key that is both a value and an object of other keys: look each path up
        path_list = "[" + ", ".join(sql_str("$." + ".".join(f'"{p}"' for p in k.split("."))) for k in paths) + "]"
        value = {k: f"_v[{i + 1}]" for i, k in enumerate(paths)}
        parse = f"TRY(json_extract_string(line, {path_list}))"
        nothing = "list_count(_v) = 0"
        malformed = "_v IS NULL"

    def cols() -> list[str]:
        out = []
        for c in CANONICAL:
            if c in keys:
                cands = [f"nullif(nullif({value[k]}, '-'), '')" for k in keys[c]]
                out.append(f"coalesce({', '.join(cands)}) AS {c}" if len(cands) > 1 else f"{cands[0]} AS {c}")
            elif c in constants:
                out.append(f"{sql_str(constants[c])} AS {c}")
            else:
                out.append(f"NULL::VARCHAR AS {c}")
        return out

    def select(rel: str) -> str:
        # One parse per line; malformed JSON gives NULL. Only lines where no known key was found
        # are looked at again, to tell "not an object" from "an object without our keys".
        return f"""
        SELECT line_no, line,
               CASE WHEN {malformed} THEN 'malformed JSON'
                    WHEN (_v IS NULL OR ({nothing})) AND TRY(json_type(line)) <> 'OBJECT'
                    THEN 'JSON value is not an object (' || lower(json_type(line)) || ')'
               END AS parse_error,
               {', '.join(cols())}
        FROM (SELECT line_no, line, {parse} AS _v FROM {rel})
        """

    return select


def _key_tree(paths: list[str]) -> dict | None:
    """The json_transform structure of dotted key paths, every leaf read as VARCHAR (None if a key is
    both a leaf and a parent, which one struct cannot hold)."""
    tree: dict = {}
    for path in paths:
        *parents, leaf = path.split(".")
        node = tree
        for p in parents:
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                return None
        if leaf in node:
            return None
        node[leaf] = "VARCHAR"
    return tree


def _sql_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def regex_select(pattern: str, groups: dict[str, str], what: str, required: str,
                 constants: dict[str, str] | None = None,
                 scale: dict[str, float] | None = None,
                 exprs: dict[str, str] | None = None) -> Callable[[str], str]:
    """A SELECT for line formats: a pattern whose named groups map onto canonical columns.

    The pattern must be valid for both Python ``re`` and RE2 (DuckDB), with every capturing
    group named: ``(?P<name>...)``. ``groups``: canonical column -> group name. ``required``:
    a group that is non-empty whenever the line matches. ``scale`` multiplies a numeric column
    (e.g. seconds -> ms). ``exprs``: canonical column -> a SQL expression over the match struct
    ``_m`` (e.g. ``"_m.a || _m.b"``), for columns computed from several groups.
    Lines that do not match are rejected with 'line does not match <what>'.
    """
    import re

    constants, scale, exprs = constants or {}, scale or {}, exprs or {}
    rx = re.compile(pattern)
    if rx.groups != len(rx.groupindex):
        raise ValueError(f"every capturing group of a format pattern must be named: {pattern}")
    names = [n for n, _ in sorted(rx.groupindex.items(), key=lambda kv: kv[1])]
    missing = [g for g in list(groups.values()) + [required] if g not in rx.groupindex]
    if missing:
        raise ValueError(f"pattern has no group(s) {missing}; it has {names}")

    def col(c: str) -> str:
        v = f"nullif(nullif(_m.{groups[c]}, '-'), '')"
        if c in scale:
            v = f"coalesce((TRY_CAST({v} AS DOUBLE) * {scale[c]!r})::VARCHAR, {v})"
        return f"{v} AS {c}"

    def cols() -> list[str]:
        out = []
        for c in CANONICAL:
            if c in exprs:
                out.append(f"({exprs[c]}) AS {c}")
            elif c in groups:
                out.append(col(c))
            elif c in constants:
                out.append(f"{sql_str(constants[c])} AS {c}")
            else:
                out.append(f"NULL::VARCHAR AS {c}")
        return out

    name_list = "[" + ", ".join(sql_str(n) for n in names) + "]"

    # Lines reach formats with their terminator (stripping it costs more than matching around it).
    rx_sql = (pattern[:-1] if pattern.endswith("$") else pattern) + r"\r?\n?$"

    def select(rel: str) -> str:
        return f"""
        SELECT line_no, line,
               CASE WHEN _m.{required} = '' THEN {sql_str('line does not match ' + what)} END AS parse_error,
               {', '.join(cols())}
        FROM (SELECT line_no, line, regexp_extract(line, {sql_str(rx_sql)}, {name_list}) AS _m FROM {rel})
        """

    return select


def replace_columns(select: Callable[[str], str], replacements: dict[str, str]) -> Callable[[str], str]:
    """Post-process a format's SELECT: canonical column -> SQL expression over its raw columns.

    E.g. ``{"route": "CASE WHEN route = '$default' THEN NULL ELSE route END"}``.
    """
    repl = ", ".join(f"({e}) AS {c}" for c, e in replacements.items())

    def wrapped(rel: str) -> str:
        return f"SELECT * REPLACE ({repl}) FROM ({select(rel)})"

    return wrapped
