"""`prefdata app` stops cleanly on SIGTERM and SIGINT: its Streamlit server goes too."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from prefdata.annotate.app_launch import app_environment
from tests.annotate_data import write_kept

pytestmark = pytest.mark.slow
START_DEADLINE_S = 90


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.read().strip() == b"ok"
    except OSError:
        return False


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    state = Path(f"/proc/{pid}/stat")
    return not (state.exists() and state.read_text().split(")")[-1].split()[0] == "Z")


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads child pids from /proc")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_command_and_its_server(tmp_path: Path, sig: signal.Signals) -> None:
    pytest.importorskip("streamlit")
    data = write_kept(tmp_path / "kept.parquet", 3)
    port = _free_port()
    command = [sys.executable, "-m", "prefdata", "app", "--data", str(data), "--open"]
    command += ["--port", str(port), "--address", "127.0.0.1"]
    app = subprocess.Popen(
        command,
        cwd=tmp_path,
        env=app_environment(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_DEADLINE_S
        while not _healthy(url):
            assert app.poll() is None, f"prefdata app exited with {app.returncode}"
            assert time.monotonic() < deadline, "app did not start"
            time.sleep(0.2)  # poll interval; the deadline bounds the wait
        servers = _children(app.pid)
        assert servers, "no server process under prefdata app"
        app.send_signal(sig)
        assert app.wait(timeout=30) == 128 + sig
        for pid in servers:
            assert not _alive(pid), f"server {pid} still running after {sig.name}"
        assert not _healthy(url)
    finally:
        if app.poll() is None:
            app.kill()
