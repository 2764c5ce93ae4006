"""`marquee app` as a real process: how it ends, and that its Streamlit server never outlives it.

Each test starts `marquee app` in a session of its own (as a terminal would run it), waits until Streamlit
answers its health check, then stops it the way a user or a job scheduler does.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from app.commands.app import _free_port

REPO = Path(__file__).resolve().parents[1]


def gone(pid: int) -> bool:
    """True once `pid` has exited (a zombie no one reaped counts as gone: it holds no port)."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def port_free(port: int) -> bool:
    """Whether a new server could listen on `port` (as servers do, past connections in TIME_WAIT)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def wait_for(check, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


@pytest.fixture
def running_app(home: Path) -> Iterator[tuple[subprocess.Popen, int, int]]:
    """(the `marquee app` process, its Streamlit child's pid, the port) once the app answers; killed after."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "app", "--home", str(home), "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True, cwd=REPO)
    children: list[psutil.Process] = []
    try:
        def healthy() -> bool:
            assert proc.poll() is None, proc.stderr.read().decode()
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2)
                return True
            except OSError:
                return False

        assert wait_for(healthy, 90), "the app did not answer its health check"
        children = psutil.Process(proc.pid).children(recursive=True)
        assert len(children) == 1, children
        yield proc, children[0].pid, port
    finally:
        for p in [proc, *children]:   # whatever the test left: by pid, never by name
            try:
                os.kill(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.wait(timeout=10)
        proc.stderr.close()


@pytest.mark.parametrize("how", ["ctrl-c", "sigterm"])
def test_stopping_the_app_exits_130_and_stops_streamlit(running_app, how):
    """The README promises 130 on Ctrl-C or SIGTERM for every command; `marquee app` returned 0. Ctrl-C in a
    terminal signals the whole foreground group; a scheduler's SIGTERM reaches `marquee app` alone."""
    proc, child, port = running_app
    if how == "ctrl-c":
        os.killpg(proc.pid, signal.SIGINT)
    else:
        os.kill(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=20) == 130
    assert "error: interrupted" in proc.stderr.read().decode()
    assert wait_for(lambda: gone(child), 5) and wait_for(lambda: port_free(port), 5)


def test_killing_the_app_outright_takes_streamlit_with_it(running_app):
    """`kill -9` of `marquee app` left its Streamlit server running and holding the port."""
    proc, child, port = running_app
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    assert wait_for(lambda: gone(child), 5), "Streamlit outlived `marquee app`"
    assert wait_for(lambda: port_free(port), 5)
