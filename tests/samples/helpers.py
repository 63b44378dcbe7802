"""Helpers for the sample-generator tests: run lines through the project's own parsers."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from forecaster.ingest.formats import get_format
from forecaster.ingest.normalize import NormalizeContext, normalized_sql


def parse_file(path: Path | str, fmt: str, default_region: str = "us-east-1") -> pd.DataFrame:
    """Every line of ``path`` through format ``fmt`` and the shared normalisation (as ingest does)."""
    lines = Path(path).read_text(encoding="utf-8").splitlines(keepends=True)
    table = pa.table({"line_no": pa.array(range(1, len(lines) + 1), pa.int64()), "line": pa.array(lines, pa.string())})
    con = duckdb.connect()
    try:
        con.register("_lines", table)
        sql = normalized_sql(get_format(fmt), "_lines", NormalizeContext(1, default_region))
        return con.execute(f"SELECT * FROM ({sql})").df()
    finally:
        con.close()


def readme_commands(readme: Path) -> list[list[str]]:
    """The ``forecaster samples generate ...`` commands of a README's shell blocks, as argument lists."""
    import shlex

    out, in_block = [], False
    for line in readme.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_block = not in_block
            continue
        if in_block and line.strip().startswith("forecaster samples generate"):
            out.append(shlex.split(line.strip())[1:])
    return out
