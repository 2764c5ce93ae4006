"""Where the store lives: `$MARQUEE_HOME` (default `./.marquee`), overridable per call."""
from __future__ import annotations

import os
from pathlib import Path

STORE_FILE = "store.duckdb"


def home(override: str | os.PathLike | None = None) -> Path:
    """The Marquee home folder: the explicit override, else `$MARQUEE_HOME`, else `./.marquee`."""
    return Path(override or os.environ.get("MARQUEE_HOME") or ".marquee").expanduser().resolve()


def store_path(override: str | os.PathLike | None = None) -> Path:
    return home(override) / STORE_FILE


def artifacts_dir(run_id: str, override: str | os.PathLike | None = None) -> Path:
    """`$MARQUEE_HOME/artifacts/<run_id>/`, created on first use."""
    path = home(override) / "artifacts" / run_id
    path.mkdir(parents=True, exist_ok=True)
    return path


def staging_dir(override: str | os.PathLike | None = None) -> Path:
    """Scratch space for jobs that compute outside the write lock, then publish."""
    path = home(override) / "staging"
    path.mkdir(parents=True, exist_ok=True)
    return path
