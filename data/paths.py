"""Where the store lives: `$MARQUEE_HOME` (default `./.marquee`), overridable per call."""
from __future__ import annotations

import os
from pathlib import Path

from data.errors import cannot

STORE_FILE = "store.duckdb"


def home(override: str | os.PathLike | None = None) -> Path:
    """The Marquee home folder: the explicit override, else `$MARQUEE_HOME`, else `./.marquee`."""
    return Path(override or os.environ.get("MARQUEE_HOME") or ".marquee").expanduser().resolve()


def store_path(override: str | os.PathLike | None = None) -> Path:
    return home(override) / STORE_FILE


def artifacts_root(override: str | os.PathLike | None = None) -> Path:
    """`$MARQUEE_HOME/artifacts/`: one folder per run (not created here)."""
    return home(override) / "artifacts"


def run_folder(run_id: str, override: str | os.PathLike | None = None) -> Path:
    """`$MARQUEE_HOME/artifacts/<run_id>/`, where it is or would be (not created: readers and prune only look)."""
    return artifacts_root(override) / run_id


def artifacts_dir(run_id: str, override: str | os.PathLike | None = None) -> Path:
    """A run's folder, created on first use (for the job that writes its model files)."""
    return _made(run_folder(run_id, override))


def staging_dir(override: str | os.PathLike | None = None) -> Path:
    """Scratch space for jobs that compute outside the write lock, then publish."""
    return _made(home(override) / "staging")


def _made(path: Path) -> Path:
    """`path`, created if missing; a home the job cannot write is one line, not a traceback: exit 2 for the user's
    setup (read-only, not a folder), 1 for a full disk."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise cannot(f"{path}: cannot create the folder", exc) from None
    return path
