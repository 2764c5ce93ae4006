"""End a helper process when the process that started it dies, `kill -9` included (which cannot take it along).

Marquee's helpers (the SQL worker, the dashboard's Streamlit server) are useless without their parent and harmful
left running: a query holds its read connection and keeps every writer out of the store; a Streamlit server
keeps serving and holds the port. One mechanism serves both, here in `data/` so that `app` can use it too.

Why a polling thread and not Linux's prctl(PR_SET_PDEATHSIG): that exists on Linux only, and it fires when the
parent *thread* that forked the child ends, not the parent process (the dashboard starts SQL workers from
Streamlit's short-lived script threads). Watching os.getppid() follows the process, on every POSIX system, at
the cost of a thread waking 5 times a second. On Windows a process keeps its parent's id after the parent
dies: there the watch never fires, and the helper lives on as it did before (no error).
"""
from __future__ import annotations

import os
import threading
import time


def exit_with_parent(parent: int | None = None, interval: float = 0.2) -> None:
    """Exit this process (status 1, no cleanup: there is no one to report to) once its parent is gone.

    `parent`: the pid the parent passed down, when it can: a parent that died before this call is then noticed
    too (the process was already handed to init, and os.getppid() no longer names the one that started it)."""
    parent = os.getppid() if parent is None else parent

    def watch() -> None:   # a thread: DuckDB and Streamlit let go of the GIL while they work
        while os.getppid() == parent:
            time.sleep(interval)
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
