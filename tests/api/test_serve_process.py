"""`forecaster serve` as a user starts it: a process of its own on a loopback port, and another
terminal's command that finds the DuckDB file held."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from forecaster.store import connect
from forecaster.store.db import holder_note_path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow   # two fresh interpreters and a server start
def test_a_command_beside_the_service_names_it_and_the_note_goes_with_it(tmp_path):
    db = tmp_path / "svc.duckdb"
    connect(db).close()
    port = _free_port()
    env = {**os.environ, "FORECASTER_DB_LOCK_TIMEOUT_S": "0.3"}
    server = subprocess.Popen([sys.executable, "-m", "forecaster", "serve", "--db", str(db), "--port", str(port),
                               "--no-scheduler", "--log-level", "warning"], env=env, cwd=tmp_path,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        while True:
            assert server.poll() is None, server.communicate()[1]
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the service did not come up"
            time.sleep(0.2)
        assert holder_note_path(db).exists()
        other = subprocess.run([sys.executable, "-m", "forecaster", "keys", "list", "--db", str(db)], env=env,
                               cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert other.returncode != 0
        said = " ".join((other.stderr + other.stdout).split())   # one line, however the terminal folded it
        assert f"is held by forecaster serve at http://127.0.0.1:{port} (PID {server.pid})" in said, said
        assert "Traceback" not in said
    finally:
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=60)
    assert server.returncode == 0, err
    assert not holder_note_path(db).exists()
