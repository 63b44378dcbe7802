"""Local worker processes: started from a fork server (never forked from the run's process, which
holds DuckDB's threads), a dead worker fails only its task, a hung one is terminated by its handle."""

from __future__ import annotations

import os
import time

import pytest

from forecaster.errors import SeriesTimeout
from forecaster.forecast.workers import WorkerDied, Workers, context, extension_models


def square(x: int) -> int:
    return x * x


def pid(_x: object) -> int:
    return os.getpid()


def behave(x: str) -> str:
    if x == "die":
        os._exit(3)
    if x == "hang":
        time.sleep(60)
    if x == "raise":
        raise ValueError("bad task")
    return x


def test_workers_start_from_a_fork_server_not_from_this_process():
    assert context().get_start_method() in ("forkserver", "spawn")
    with Workers(2) as pool:
        pids = {res for _t, res in pool.map(pid, range(4), lambda t: (t,), deadline_s=60)}
    assert os.getpid() not in pids and 1 <= len(pids) <= 2
    if context().get_start_method() == "forkserver":
        import psutil

        assert all(not psutil.pid_exists(p) or psutil.Process(p).ppid() != os.getpid() for p in pids)


def test_map_returns_every_result():
    with Workers(2) as pool:
        out = dict(pool.map(square, range(10), lambda t: (t,), deadline_s=60))
    assert out == {i: i * i for i in range(10)}


def test_a_dead_worker_fails_its_task_only_and_is_replaced():
    with Workers(2) as pool:
        out = dict(pool.map(behave, ["a", "die", "b", "raise", "c", "d"], lambda t: (t,), deadline_s=60))
        assert all(p.is_alive() for p in pool.processes)
    assert isinstance(out.pop("die"), WorkerDied)
    assert isinstance(out.pop("raise"), ValueError)
    assert out == {"a": "a", "b": "b", "c": "c", "d": "d"}


def test_a_hung_worker_is_terminated_and_its_task_times_out():
    with Workers(2) as pool:
        before = pool.processes
        dict(pool.map(behave, ["warm", "up"], lambda t: (t,), deadline_s=60))  # both workers started
        out = dict(pool.map(behave, ["hang", "a", "b"], lambda t: (t,), deadline_s=2))
        stopped = [p for p in before if p not in pool.processes]
    assert isinstance(out["hang"], SeriesTimeout) and out["a"] == "a" and out["b"] == "b"
    assert len(stopped) == 1 and not stopped[0].is_alive() and stopped[0].exitcode == -15  # SIGTERM


def test_when_every_worker_hangs_the_rest_time_out_at_once():
    with Workers(1) as pool:
        dict(pool.map(behave, ["warm"], lambda t: (t,), deadline_s=60))
        out = dict(pool.map(behave, ["hang", "a", "b"], lambda t: (t,), deadline_s=0.5))
    assert all(isinstance(v, SeriesTimeout) for v in out.values())
    assert "all 1 workers hung" in str(out["b"])


class Plugin:
    """A model defined outside forecaster: it goes to the workers by reference."""


def test_extension_models_are_those_defined_outside_forecaster():
    from forecaster.forecast.models.base import MODELS

    MODELS.register("test_plugin_model", Plugin)  # type: ignore[arg-type]
    try:
        assert extension_models(["ets", "test_plugin_model", "no_such_model"]) == {"test_plugin_model": Plugin}
    finally:
        MODELS.unregister("test_plugin_model")


@pytest.mark.parametrize("workers", [2])
def test_closing_stops_every_worker(workers):
    pool = Workers(workers).__enter__()
    procs = pool.processes
    pool.close()
    assert all(not p.is_alive() for p in procs)


def test_an_entry_script_without_a_main_guard_is_not_run_again_in_the_workers(tmp_path):
    """Spawned and fork-server children normally run the parent's main script again; ours must not
    (a script calling main() unguarded would run the whole command once more per worker)."""
    import subprocess
    import sys
    from pathlib import Path

    marker = tmp_path / "runs"
    script = tmp_path / "entry.py"
    script.write_text(
        "import os, sys\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        f"open({str(marker)!r}, 'a').write('x')\n"          # unguarded: what an entry script without a guard does
        "from forecaster.forecast.workers import Workers\n"
        "import test_workers\n"
        "with Workers(2) as pool:\n"
        "    print(sorted(r for _t, r in pool.map(test_workers.square, range(4), lambda t: (t,), deadline_s=120)))\n")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[0, 1, 4, 9]" and marker.read_text() == "x"
