"""`marquee app [--port N]`: serve the dashboard on localhost over the store at --home / $MARQUEE_HOME."""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

MAIN = Path(__file__).resolve().parents[1] / "main.py"


def streamlit_command(port: int) -> list[str]:
    """The `streamlit run` line for the dashboard, bound to 127.0.0.1 only."""
    return [sys.executable, "-m", "streamlit", "run", str(MAIN), "--server.port", str(port),
            "--server.address", "127.0.0.1", "--server.headless", "true",
            "--browser.gatherUsageStats", "false", "--client.toolbarMode", "minimal"]


def serve(home: str | os.PathLike | None, port: int) -> int:
    """Run the app in the foreground until Ctrl-C; returns Streamlit's exit code."""
    from data import paths, store

    with store.read(home):   # fail fast, with the usual message, if there is no store
        pass
    env = {**os.environ, "MARQUEE_HOME": str(paths.home(home))}
    print(f"Marquee app: http://127.0.0.1:{port}  (store {paths.store_path(home)}; Ctrl-C to stop)", flush=True)
    proc = subprocess.Popen(streamlit_command(port), env=env)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))   # so `finally` stops Streamlit on SIGTERM too
    try:
        return proc.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def _app(args: argparse.Namespace) -> int:
    return serve(args.home, args.port)


def register(cli) -> None:
    p = cli.command("app", "start the dashboard on http://127.0.0.1:PORT", _app)
    p.add_argument("--port", type=int, default=8501)
