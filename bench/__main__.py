"""Run every benchmark: ``./run bench`` (or ``python -m bench [NAME ...]``, e.g. ``python -m bench ingest``).

Each ``bench/bench_*.py`` runs on its own (``python -m bench.bench_ingest --help`` lists its
options) and writes its markdown to ``bench/out/``; the results we keep, with machine, date and
command, are copied into ``docs/benchmarks.md``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    names = argv or sorted(p.stem[len("bench_"):] for p in HERE.glob("bench_*.py"))
    failed = []
    for name in names:
        print(f"=== bench {name} ===", flush=True)
        rc = subprocess.call([sys.executable, "-m", f"bench.bench_{name}"], cwd=HERE.parent)
        if rc:
            failed.append(name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
