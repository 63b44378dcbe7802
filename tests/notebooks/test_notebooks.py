"""The analyst notebooks run top to bottom on the samples (nbclient, a real kernel), hold no logic of
their own, and are committed without outputs."""

from __future__ import annotations

import ast
import os
import shutil
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CELL_TIMEOUT_S = 60   # the notebooks run in well under a minute each; see the report in the README


def test_there_are_notebooks():
    assert [p.name[:2] for p in NOTEBOOKS] == ["01", "02", "03", "04"], NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_without_outputs_and_without_logic(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: outputs committed"
        for node in ast.walk(ast.parse(cell.source)):
            # calls, names and literals only: no functions, classes, loops or branches in cells
            assert not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.For, ast.While,
                                         ast.If, ast.With, ast.Lambda, ast.ListComp, ast.DictComp)), \
                f"{path.name}: logic in a cell:\n{cell.source}"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom(path, demo_store, tmp_path, monkeypatch):
    con, settings = demo_store
    con.execute("CHECKPOINT")
    db = tmp_path / "notebook.duckdb"
    shutil.copyfile(settings.db, db)
    monkeypatch.setenv("FORECASTER_DB", str(db))
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert errors == []
    shown = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
             if o.output_type in ("display_data", "execute_result")]
    assert len(shown) >= 4
