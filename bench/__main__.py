"""Run every benchmark: ``./run bench`` (or ``python -m bench [NAME ...]``).

Each ``bench/bench_*.py`` has ``main(argv)`` and writes its markdown to ``bench/out/``; the
results we keep, with machine, date and command, are copied into ``docs/benchmarks.md``.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> None:
    names = argv or sorted(p.stem[len("bench_"):] for p in HERE.glob("bench_*.py"))
    for name in names:
        print(f"=== bench {name} ===", flush=True)
        importlib.import_module(f"bench.bench_{name}").main([])


if __name__ == "__main__":
    main(sys.argv[1:])
