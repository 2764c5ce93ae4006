"""`marquee app [--port N]`: serve the dashboard on localhost over the store at --home / $MARQUEE_HOME."""
from __future__ import annotations

import argparse
import os
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
    try:
        return subprocess.call(streamlit_command(port), env=env)
    except KeyboardInterrupt:
        return 0


def _app(args: argparse.Namespace) -> int:
    return serve(args.home, args.port)


def register(cli) -> None:
    p = cli.command("app", "start the dashboard on http://127.0.0.1:PORT", _app)
    p.add_argument("--port", type=int, default=8501)
