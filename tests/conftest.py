"""Shared fixtures: a fresh empty store per test, and one demo store per session (read it, don't write)."""
from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from data import demo, store

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True, scope="session")
def child_processes_run_this_checkout() -> Iterator[None]:
    """Processes the tests start import this checkout's packages: the SQL worker starts with -P (never the working
    directory's `data/`), so it would otherwise run the installed Marquee, another git worktree's included."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
        yield


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An initialized, empty store; also set as MARQUEE_HOME for code that reads the environment."""
    path = tmp_path / "home"
    store.init(path)
    monkeypatch.setenv("MARQUEE_HOME", str(path))
    return path


@pytest.fixture(scope="session")
def demo_home_ro(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """MovieLens-100k + the quick demo join, loaded once. Read only: copy it (demo_home) to write."""
    path = tmp_path_factory.mktemp("demo") / "home"
    demo.load(path, profile="quick")
    return path


@pytest.fixture
def demo_home(demo_home_ro: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private, writable copy of the demo store."""
    path = tmp_path / "demo_home"
    shutil.copytree(demo_home_ro, path)
    monkeypatch.setenv("MARQUEE_HOME", str(path))
    return path
