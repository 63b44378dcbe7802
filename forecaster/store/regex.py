"""Checking a pattern with the engine that runs it: DuckDB's RE2 (the loader's regexes run in SQL)."""

from __future__ import annotations

import duckdb


def re2_error(pattern: str) -> str | None:
    """Why RE2 (DuckDB's regex engine) refuses ``pattern``, or None when it compiles."""
    con = duckdb.connect()
    try:
        con.execute("SELECT regexp_matches('', ?)", [pattern]).fetchall()
    except duckdb.Error as e:
        return str(e).split("\n")[0]
    finally:
        con.close()
    return None
