"""`marquee app [--port N]`: serve the dashboard on localhost over the store at --home / $MARQUEE_HOME."""
from __future__ import annotations

import argparse
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from app.cli import whole_number

MAIN = Path(__file__).resolve().parents[1] / "main.py"


def streamlit_command(port: int) -> list[str]:
    """The `streamlit run` line for the dashboard, bound to 127.0.0.1 only, in a process that ends with this one
    (app/streamlit_child.py)."""
    return [sys.executable, "-m", "app.streamlit_child", str(os.getpid()), "run", str(MAIN), "--server.port", str(port),
            "--server.address", "127.0.0.1", "--server.headless", "true",
            "--browser.gatherUsageStats", "false", "--client.toolbarMode", "minimal"]


def serve(home: str | os.PathLike | None, port: int) -> int:
    """Run the app in the foreground; returns Streamlit's exit code if it ends by itself. Ctrl-C and SIGTERM
    (which the CLI turns into KeyboardInterrupt) stop Streamlit, then propagate: exit 130, as for every command."""
    from data import paths, store

    with store.read(home):   # fail fast, with the usual message, if there is no store
        pass
    env = {**os.environ, "MARQUEE_HOME": str(paths.home(home))}
    print(f"Marquee app: http://127.0.0.1:{port}  (store {paths.store_path(home)}; Ctrl-C to stop)", flush=True)
    proc = subprocess.Popen(streamlit_command(port), env=env)
    try:
        return proc.wait()
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen) -> None:
    """End Streamlit if it still runs: SIGTERM (it shuts down cleanly), SIGKILL after 10 s or a second Ctrl-C."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    except KeyboardInterrupt:
        proc.kill()
        proc.wait()
        raise


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def in_background(home: str | os.PathLike, timeout: float = 60.0, output: IO | int = subprocess.DEVNULL
                  ) -> Iterator[str]:
    """`marquee app` on a free port in its own process group, for as long as the block runs (the
    browser test and the app bench). Yields the URL once the app answers its health check; raises
    RuntimeError if it exits or stays silent for `timeout` seconds."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "app", "--home", str(home), "--port", str(port)],
                            stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
                            cwd=Path(__file__).resolve().parents[2])
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the app did not start") from None
                time.sleep(0.2)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):   # the group: `marquee app` and its Streamlit
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def _app(args: argparse.Namespace) -> int:
    return serve(args.home, args.port)


def register(cli) -> None:
    p = cli.command("app", "start the dashboard on http://127.0.0.1:PORT", _app)
    p.add_argument("--port", type=whole_number(1, 65535), default=8501, help="port on 127.0.0.1 to serve on")
