"""Shared benchmark helpers: timing a subprocess with its peak memory, machine facts, markdown."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "out"


@dataclass
class Measured:
    seconds: float
    peak_rss_mb: float
    stdout: str
    cpu_seconds: float = 0.0     # user + system CPU of the process tree (less noisy than wall time on a shared box)


def measure(cmd: list[str], env: dict | None = None, cwd: Path | None = None) -> Measured:
    """Run ``cmd``; wall time, CPU time and peak resident memory of the process tree (sampled every 20 ms)."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})}, cwd=cwd or REPO)
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        try:
            p = psutil.Process(proc.pid)
            while not stop.is_set():
                try:
                    rss = p.memory_info().rss + sum(c.memory_info().rss for c in p.children(recursive=True))
                    peak = max(peak, rss)
                except psutil.Error:
                    pass
                time.sleep(0.02)
        except psutil.Error:
            return

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    out, err = proc.communicate()
    secs = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)
    stop.set()
    th.join()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err[-3000:]}")
    return Measured(secs, peak / 2**20, out, cpu)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = psutil.virtual_memory().total / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB RAM, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def header(title: str, command: str) -> str:
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"## {title}\n\n- date: {now}\n- machine: {machine()}\n- command: `{command}`\n"


def python() -> str:
    return sys.executable


def write_report(name: str, md: str) -> None:
    """Write a benchmark's markdown to ``bench/out/NAME`` and print it."""
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / name).write_text(md)
    print(md)


@contextlib.contextmanager
def scratch(work: Path | None, prefix: str):
    """``work``, or a new temporary directory removed afterwards."""
    d = work or Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield d
    finally:
        if work is None:
            shutil.rmtree(d, ignore_errors=True)
