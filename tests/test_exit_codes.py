"""Exit codes when the file system refuses a write (README, "For scripts and cron"): 1 when the machine fails the
command (a full disk, a file size limit), which a scheduler may retry; 2 when the user's setup does (a read-only
home, a file where a folder goes). Either way one `error:` line and no run left behind.

A full disk is a small tmpfs mounted in a private user and mount namespace (`unshare`), which needs no root; a
file size limit (RLIMIT_FSIZE, set in the child) fails writes as a full disk does."""
from __future__ import annotations

import errno
import os
import resource
import shutil
import subprocess
from pathlib import Path

import pytest

from data import store
from tests.ingest_helpers import MARQUEE, REPO

MOUNT = 'mount -t tmpfs -o "$1" tmpfs "$2" && shift 2 && exec "$@"'


def _can_mount_tmpfs() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", MOUNT, "sh",
                            "size=64k", "/mnt", "true"], capture_output=True, timeout=30)
    return probe.returncode == 0


needs_tmpfs = pytest.mark.skipif(not _can_mount_tmpfs(), reason="no unprivileged user namespaces to mount a tmpfs in")


def _on_tmpfs(options: str, mountpoint: Path, *args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    """`marquee ARGS` with a tmpfs mounted at `mountpoint` (seen by this command only); nr_inodes=1 leaves no room
    for a new file or folder in it, `ro` makes it read-only."""
    mountpoint.mkdir(parents=True, exist_ok=True)
    return subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", MOUNT, "sh", options,
                           str(mountpoint), *MARQUEE, *args], capture_output=True, text=True, cwd=cwd, timeout=180)


def _with_file_size_limit(limit: int, *args: str) -> subprocess.CompletedProcess:
    def small_disk() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return subprocess.run([*MARQUEE, *args], capture_output=True, text=True, cwd=REPO, timeout=300,
                          preexec_fn=small_disk)


def _one_error_line(proc: subprocess.CompletedProcess, code: int, *words: str) -> None:
    assert proc.returncode == code and "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and all(w in errors[0] for w in words), proc.stderr


def _runs(home: Path) -> list[tuple]:
    with store.read(home) as con:
        return con.execute("SELECT status, error FROM runs").fetchall()


@needs_tmpfs
def test_a_full_disk_where_a_run_makes_its_folder_is_exit_1(demo_home):
    proc = _on_tmpfs("size=64k,nr_inodes=1", demo_home / "artifacts", "train", "forecast", "--model", "mean4",
                     "--home", str(demo_home))
    _one_error_line(proc, 1, f"{demo_home / 'artifacts'}/forecast-", "cannot create the folder",
                    "No space left on device")
    assert _runs(demo_home) == []


@needs_tmpfs
def test_a_full_disk_where_init_makes_the_home_is_exit_1(tmp_path):
    proc = _on_tmpfs("size=64k,nr_inodes=1", tmp_path / "disk", "init", "--home", str(tmp_path / "disk" / "home"))
    _one_error_line(proc, 1, "cannot create the Marquee home folder (No space left on device)")


@needs_tmpfs
def test_a_full_disk_where_init_makes_the_store_is_exit_1(tmp_path):
    """The home is there (the tmpfs's own folder); DuckDB cannot create the store's file in it."""
    proc = _on_tmpfs("size=64k,nr_inodes=1", tmp_path / "disk", "init", "--home", str(tmp_path / "disk"))
    _one_error_line(proc, 1, "store.duckdb: cannot open the store", "No space left on device")


@needs_tmpfs
def test_a_read_only_home_is_still_exit_2(tmp_path):
    """The user's setup, not the machine: a full disk's exit code must not swallow it."""
    proc = _on_tmpfs("ro,size=64k", tmp_path / "disk", "init", "--home", str(tmp_path / "disk" / "home"))
    _one_error_line(proc, 2, "cannot create the Marquee home folder (Read-only file system)")


def test_a_file_size_limit_on_the_runs_first_file_is_exit_1(demo_home):
    """The run's owner file is its first write: refused, the run is never registered."""
    proc = _with_file_size_limit(0, "train", "forecast", "--model", "mean4", "--home", str(demo_home))
    _one_error_line(proc, 1, ".owner: cannot write the run's files (File too large)")
    assert _runs(demo_home) == [] and not list((demo_home / "artifacts").iterdir())


def test_a_file_size_limit_when_the_store_commits_a_new_run_is_exit_1(demo_home):
    """DuckDB reports it as a failed commit (a TransactionException), not an IOException: once a traceback."""
    proc = _with_file_size_limit(200, "train", "forecast", "--model", "mean4", "--home", str(demo_home))
    _one_error_line(proc, 1, "Failed to commit", "File too large")
    assert _runs(demo_home) == [] and not list((demo_home / "artifacts").iterdir())


def test_a_file_size_limit_when_a_model_is_saved_is_exit_1_and_the_run_failed(demo_home):
    """safetensors reports it in words (a SafetensorError): once a traceback. EASE's weights on the demo's 1,682
    titles are 11 MB; the store's few writes stay under the limit."""
    limit = os.path.getsize(store.store_path(demo_home)) + 2**20
    proc = _with_file_size_limit(limit, "train", "recsys", "--model", "ease", "--profile", "quick",
                                 "--home", str(demo_home))
    _one_error_line(proc, 1, "File too large")
    [(status, error)] = _runs(demo_home)
    assert status == "failed" and "File too large" in error


def test_a_file_size_limit_on_an_export_is_exit_1_and_leaves_nothing(demo_home, tmp_path):
    out = tmp_path / "out" / "items.csv"
    out.parent.mkdir()
    proc = _with_file_size_limit(1000, "export", "items", str(out), "--home", str(demo_home))
    _one_error_line(proc, 1, f"{out}: cannot write the export (File too large)")
    assert not list(out.parent.iterdir())


def test_a_file_size_limit_on_scored_output_is_exit_1_and_leaves_nothing(home, tmp_path):
    from nlp import api
    from tests.test_nlp_model import toy_reviews

    labeled = tmp_path / "labeled.csv"
    toy_reviews(120).to_csv(labeled, index=False)
    api.train(home, model="tfidf", labeled=labeled, progress=False)
    src, out = tmp_path / "in.csv", tmp_path / "out" / "scores.csv"
    toy_reviews(50, seed=3).assign(review_id=lambda d: [f"r{i}" for i in d.index])[["review_id", "text"]].to_csv(
        src, index=False)
    out.parent.mkdir()
    proc = _with_file_size_limit(200, "score", "sentiment", "--input", str(src), "--output", str(out),
                                 "--home", str(home))
    _one_error_line(proc, 1, f"{out}: cannot write the output (File too large)")
    assert not list(out.parent.iterdir())


@pytest.mark.parametrize(("code", "exit_code"), [
    (errno.ENOSPC, 1), (errno.EDQUOT, 1), (errno.EFBIG, 1), (errno.EIO, 1),
    (errno.EACCES, 2), (errno.EROFS, 2), (errno.EPERM, 2), (errno.ENOTDIR, 2), (errno.EEXIST, 2), (errno.ENOENT, 2)])
def test_an_os_error_no_command_caught_exits_by_whose_fault_it_is(code, exit_code):
    """Saving a model into a folder gone read-only is the user's setup (2); a disk that fills is the machine's (1),
    as where the error is caught and worded (a run's folder, an export)."""
    from app.cli import _system_failure
    from data.errors import MachineError, MarqueeError, cannot

    exc = OSError(code, os.strerror(code), "/home/x/model.safetensors")
    assert _system_failure(exc) == (exit_code, f"/home/x/model.safetensors: {os.strerror(code)}")
    error = cannot("/home/x: cannot create the folder", exc)
    assert error.exit_code == exit_code and isinstance(error,
                      MachineError if exit_code == 1 else MarqueeError)
