"""The layers and the one door to DuckDB, checked by import-linter (contracts in pyproject.toml).

Runs ``lint-imports`` over the package, and over a copy of it with deliberate violations to show
that a violation is caught (so ``./run test``, which CI runs, fails on one).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    """``lint-imports`` in ``root`` (its pyproject.toml's contracts, its forecaster package)."""
    env = {**os.environ, "PYTHONPATH": str(root) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.run(
        [sys.executable, "-c", "from importlinter.cli import lint_imports_command; lint_imports_command()",
         "--config", "pyproject.toml", "--no-cache"],
        cwd=root, env=env, capture_output=True, text=True, timeout=300)


def test_the_package_keeps_its_layers_and_only_store_imports_duckdb():
    r = lint_imports(ROOT)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Contracts: 2 kept, 0 broken." in r.stdout


def test_a_violation_is_caught(tmp_path):
    shutil.copytree(ROOT / "forecaster", tmp_path / "forecaster", ignore=shutil.ignore_patterns(
        "__pycache__", "data", "*.toml", "*.csv"))
    shutil.copyfile(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    assert lint_imports(tmp_path).returncode == 0
    # a forecast module reaching up into the CLI, and a pricing module opening DuckDB itself
    (tmp_path / "forecaster" / "forecast" / "upward.py").write_text("from ..cli import demo\n")
    (tmp_path / "forecaster" / "pricing" / "sneaky.py").write_text("import duckdb\n")
    r = lint_imports(tmp_path)
    assert r.returncode != 0
    assert "Contracts: 0 kept, 2 broken." in r.stdout, r.stdout
    assert "forecaster.forecast.upward -> forecaster.cli.demo" in r.stdout
    assert "forecaster.pricing.sneaky -> duckdb" in r.stdout
