"""Route templates: 'GET /orders/{id}', not 'GET /orders/8812'.

Where the gateway logs a template (REST ``resourcePath``, HTTP API ``routeKey``) we keep it.
Otherwise the route comes from a route map (our YAML/JSON/TOML list, or an OpenAPI spec) given
with ``--route-map``, and failing that from heuristics: numeric ids, UUIDs and long hex or
base64-ish tokens become ``{id}``. All of it compiles to one SQL expression. Paths templated by
the heuristics alone are then grouped further by templates mined from the traffic itself
(:mod:`forecaster.ingest.route_mining`).
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from ..errors import BadInput
from .formats.base import sql_str

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "CONNECT")
_PARAM = re.compile(r"\{[^/{}]+\}")


@dataclass(frozen=True)
class RouteTemplate:
    method: str        # an HTTP method, or 'ANY'
    template: str      # '/pets/{id}'

    @property
    def route(self) -> str:
        return f"{self.method} {self.template}"

    def regex(self) -> str:
        """An RE2 pattern matching the concrete paths of this template (``{proxy+}`` spans segments)."""
        out, pos = [], 0
        for m in _PARAM.finditer(self.template):
            out.append(re.escape(self.template[pos:m.start()]))
            out.append(".+" if m.group(0).endswith("+}") else "[^/]+")
            pos = m.end()
        out.append(re.escape(self.template[pos:]))
        return "^" + "".join(out) + "/?$"


def load_route_map(path: Path | str) -> list[RouteTemplate]:
    """Read a route map: an OpenAPI (2 or 3) spec, or a list of 'METHOD /template' strings.

    Accepted shapes (YAML, JSON or TOML): ``{"openapi"|"swagger": ..., "paths": {...}}`` (paths are
    prefixed by Swagger 2's ``basePath`` or by the path part of each OpenAPI 3 ``servers`` URL),
    ``{"routes": ["GET /pets/{id}", ...]}`` or a bare list. Templates with more literal
    segments are tried first, so '/pets/mine' wins over '/pets/{id}'.
    """
    import yaml   # here: only a route map needs it (10 ms of every ingest's start-up otherwise)

    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise BadInput(f"cannot read route map {p}: {e}") from e
    try:
        if p.suffix == ".toml":
            doc = tomllib.loads(text)
        elif p.suffix == ".json":
            doc = json.loads(text)
        else:
            doc = yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as e:
        raise BadInput(f"route map {p} is not valid {p.suffix.lstrip('.') or 'YAML'}: {e}") from e
    templates: list[RouteTemplate] = []
    problems: list[str] = []
    if isinstance(doc, dict) and ("openapi" in doc or "swagger" in doc):
        for base in _base_paths(doc):
            for tpl, ops in (doc.get("paths") or {}).items():
                methods = [m.upper() for m in (ops or {}) if m.upper() in HTTP_METHODS]
                if not methods:
                    methods = ["ANY"]
                templates += [RouteTemplate(m, base + tpl) for m in methods]
    else:
        entries = doc.get("routes") if isinstance(doc, dict) else doc
        if not isinstance(entries, list):
            raise BadInput(f"route map {p}: expected an OpenAPI spec or a list of routes, got {type(doc).__name__}")
        for i, entry in enumerate(entries):
            parts = str(entry).split(None, 1)
            if len(parts) == 1 and parts[0].startswith("/"):
                templates.append(RouteTemplate("ANY", parts[0]))
            elif len(parts) == 2 and parts[1].startswith("/") and (parts[0].upper() in HTTP_METHODS or parts[0].upper() == "ANY"):
                templates.append(RouteTemplate(parts[0].upper(), parts[1]))
            else:
                problems.append(f"entry {i + 1}: expected 'METHOD /path/{{param}}', got {entry!r}")
    if problems:
        raise BadInput(f"route map {p}: " + "; ".join(problems))
    # Most specific first: more literal characters, fewer parameters.
    templates.sort(key=lambda t: (-len(_PARAM.sub("", t.template)), t.template.count("{"), t.method == "ANY"))
    return templates


def _base_paths(doc: dict) -> list[str]:
    """Path prefixes of a spec: Swagger 2 ``basePath``; the path of every OpenAPI 3 server URL.

    Server URL variables take their ``default`` ('https://{host}/{base}' with base default 'v1' -> '/v1').
    """
    if "swagger" in doc:
        return [(doc.get("basePath") or "").rstrip("/")]
    bases: list[str] = []
    for srv in doc.get("servers") or [{"url": "/"}]:
        url = str((srv or {}).get("url") or "/")
        for name, var in ((srv or {}).get("variables") or {}).items():
            url = url.replace("{" + name + "}", str((var or {}).get("default", "")))
        path = re.sub(r"^[a-zA-Z][a-zA-Z0-9+.-]*://[^/]*", "", url)
        base = "/" + path.strip("/") if path.strip("/") else ""
        if base not in bases:
            bases.append(base)
    return bases or [""]


def clean_path_sql(path: str) -> str:
    """SQL for a path without query, fragment or scheme://host (cheap splits guard the regex)."""
    p0 = f"split_part(split_part({path}, '?', 1), '#', 1)"
    return f"(CASE WHEN contains({p0}, '://') THEN regexp_replace({p0}, '^[a-zA-Z][a-zA-Z0-9+.-]*://[^/]*', '') ELSE {p0} END)"


def heuristic_sql(clean: str) -> str:
    """SQL turning a clean concrete path (see :func:`clean_path_sql`) into a template with ``{id}`` segments.

    A DFA digit check guards the regexes: paths without a digit hold no id, and a DuckDB
    regexp_replace costs far more than a match.
    """
    # UUIDs, then long hex / base64-ish tokens (a digit among 16+ chars), then numbers.
    p = f"regexp_replace({clean}, '/[0-9a-fA-F]{{8}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{4}}-[0-9a-fA-F]{{12}}(/|$)', '/{{id}}\\1', 'g')"
    p = f"regexp_replace({p}, '/[0-9a-fA-F]{{16,}}(/|$)', '/{{id}}\\1', 'g')"
    p = f"regexp_replace({p}, '/[A-Za-z_-]*[0-9][A-Za-z0-9_-]{{19,}}(/|$)', '/{{id}}\\1', 'g')"
    # Each of those three needs a run of 16 or more token characters: a path without one (most
    # paths) goes straight to the number passes, the same result for three regex replaces fewer.
    p = f"CASE WHEN regexp_matches({clean}, '[0-9A-Za-z_-]{{16}}') THEN {p} ELSE {clean} END"
    for _ in range(2):  # consecutive numeric segments share a '/': two passes
        p = f"regexp_replace({p}, '/[0-9]+(/|$)', '/{{id}}\\1', 'g')"
    return f"coalesce(nullif(CASE WHEN regexp_matches({clean}, '[0-9]') THEN {p} ELSE {clean} END, ''), '/')"


def route_sql(method: str, clean: str, templates: list[RouteTemplate] | None = None) -> str:
    """SQL for the route of (method, clean path): route-map match first, heuristics otherwise.

    ``method`` and ``clean`` should be plain column names: they appear several times.
    """
    heur = f"{method} || ' ' || {heuristic_sql(clean)}"
    if not templates:
        return heur
    return f"coalesce({mapped_sql(method, clean, templates)}, {heur})"


def mapped_sql(method: str, clean: str, templates: list[RouteTemplate] | None) -> str:
    """SQL for the route-map template (method + template) a path matches, NULL when none does."""
    if not templates:
        return "NULL::VARCHAR"
    whens = []
    for t in templates:
        cond = f"regexp_matches({clean}, {sql_str(t.regex())})"
        if t.method != "ANY":
            cond = f"{method} = {sql_str(t.method)} AND {cond}"
        whens.append(f"WHEN {cond} THEN {method} || ' ' || {sql_str(t.template)}")
    return f"(CASE {' '.join(whens)} END)"
