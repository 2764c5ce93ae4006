"""The command line when things around it go wrong: a store that is not one, a home that is a file, a
reader that closes the pipe, Ctrl-C. Each is one `error:` line (or silence) and an exit code, never a
traceback."""
from __future__ import annotations

import os
import resource
import signal
import subprocess
import time
from pathlib import Path

import duckdb
import pytest

from data import store
from data.ingest import ingest
from tests.ingest_helpers import MARQUEE, REPO, marquee


def _one_error_line(proc: subprocess.CompletedProcess, words: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and words in errors[0], proc.stderr


@pytest.mark.parametrize("command", [("sql", "SELECT 1"), ("runs",), ("init",), ("export", "items", "x.csv")])
def test_a_file_that_is_not_a_duckdb_store_is_named(tmp_path, command):
    home = tmp_path / "home"
    home.mkdir()
    (home / "store.duckdb").write_text("not a database\n")
    _one_error_line(marquee(*command, home=home), "store.duckdb: cannot open the store")


def test_a_store_path_that_is_a_folder_is_named(tmp_path):
    (tmp_path / "store.duckdb").mkdir()
    _one_error_line(marquee("runs", home=tmp_path), "cannot open the store")


def test_a_duckdb_file_of_something_else_is_not_taken_for_a_store(tmp_path):
    con = duckdb.connect(str(tmp_path / "store.duckdb"))
    con.execute("CREATE TABLE unrelated (a INTEGER)")
    con.close()
    _one_error_line(marquee("sql", "SELECT 1", home=tmp_path), "not a Marquee store")


def test_a_home_that_is_a_file_is_named(tmp_path):
    home = tmp_path / "home"
    home.write_text("")
    _one_error_line(marquee("init", home=home), "cannot create the Marquee home folder")


def test_a_reader_closing_the_pipe_is_not_an_error(tmp_path):
    """`marquee sql ... | head -1`: the rest of the output has nowhere to go; no traceback."""
    store.init(tmp_path)
    env = {**os.environ, "MARQUEE_HOME": str(tmp_path)}
    proc = subprocess.Popen([*MARQUEE, "sql", "SELECT * FROM range(200000)", "--max-rows", "200000",
                             "--format", "csv"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=REPO)
    assert proc.stdout.readline() == b"range\n"
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=60) in (0, 141) and "Traceback" not in stderr and "Error" not in stderr


def test_ctrl_c_during_a_query_is_one_line_and_exit_130(tmp_path: Path):
    store.init(tmp_path)
    env = {**os.environ, "MARQUEE_HOME": str(tmp_path)}
    endless = "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) SELECT count(*) FROM r"
    proc = subprocess.Popen([*MARQUEE, "sql", endless], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, cwd=REPO, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(3)   # start-up, then well inside the query
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130 and stderr.strip().splitlines() == ["error: interrupted"], stderr


@pytest.mark.parametrize("args", [
    ("score", "recsys", "--k", "0"), ("score", "recsys", "--k", "-1"), ("score", "recsys", "--batch-size", "-3"),
    ("score", "recsys", "--threads", "-1"), ("train", "recsys", "--seed", "-5"),
    ("train", "forecast", "--seed", "99999999999"), ("train", "forecast", "--horizon", "100000"),
    ("train", "sentiment", "--epochs", "0"), ("train", "sentiment", "--max-train", "-5"),
    ("train", "sentiment", "--time-budget", "nan"), ("runs", "--limit", "-1"), ("sql", "SELECT 1", "--max-rows", "0"),
    ("app", "--port", "70000"), ("runs", "--home", ""),
    ("runs", "--limit", "99999999999999999999"), ("sql", "SELECT 1", "--max-rows", "9223372036854775807"),
])
def test_out_of_range_options_are_usage_errors(tmp_path, args):
    """Refused while parsing (exit 2, one usage line), before anything runs or is published."""
    proc = marquee(*args, home=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"error: argument {args[-2]}" in proc.stderr.splitlines()[-1]


@pytest.mark.parametrize("args", [
    ("score", "recsys", "--run", ""), ("evaluate", "forecast", "--run", " "), ("train", "sentiment", "--labeled", ""),
    ("score", "recsys", "--history", ""), ("score", "sentiment", "--output", "x.csv", "--input", ""),
    ("score", "sentiment", "--model-dir", ""), ("ingest", "items", ""),
])
def test_empty_values_are_usage_errors(tmp_path, args):
    """An empty value (an unset shell variable) quietly meant the default: the latest run, the bundled
    reviews to train on, no history at all."""
    proc = marquee(*args, home=tmp_path)
    option = args[-2] if args[-2].startswith("--") else "file"
    assert proc.returncode == 2 and f"error: argument {option}: is empty" in proc.stderr.splitlines()[-1]


@pytest.mark.parametrize("seconds", ["inf", "1e308", "3000000"])
def test_a_sql_timeout_too_long_to_wait_on_is_one_error_line(tmp_path, seconds):
    """Python cannot wait on the query's process that long (an OverflowError traceback)."""
    store.init(tmp_path)
    _one_error_line(marquee("sql", "SELECT 1", "--timeout", seconds, home=tmp_path), "at most 86,400")


def test_cuda_asked_for_without_a_gpu_is_refused_by_every_command(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    store.init(tmp_path)
    for args in (("evaluate", "recsys"), ("evaluate", "sentiment"), ("score", "sentiment", "--all")):
        _one_error_line(marquee(*args, "--device", "cuda", home=tmp_path), "no CUDA GPU is available")


def test_sigterm_ends_a_command_like_ctrl_c(tmp_path: Path):
    """`kill` (a scheduler's timeout) is handled like Ctrl-C, so a job marks its run failed."""
    store.init(tmp_path)
    env = {**os.environ, "MARQUEE_HOME": str(tmp_path)}
    endless = "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) SELECT count(*) FROM r"
    proc = subprocess.Popen([*MARQUEE, "sql", endless], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, cwd=REPO)
    time.sleep(3)
    proc.terminate()
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130 and stderr.strip().splitlines() == ["error: interrupted"], stderr


def test_a_query_with_bytes_that_are_not_utf8_is_one_error_line(tmp_path):
    """A shell passes the bytes through; Python hands them on as lone surrogates that cannot be encoded."""
    assert marquee("init", home=tmp_path).returncode == 0
    proc = subprocess.run([*MARQUEE, "sql", b"SELECT '\xff'"], capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, "MARQUEE_HOME": str(tmp_path)}, timeout=120)
    _one_error_line(proc, "not UTF-8 text (at character 9)")


def test_file_names_with_bytes_that_are_not_utf8_are_one_error_line(tmp_path):
    """Linux allows any bytes in a name; DuckDB cannot open such a path, and must not crash the command."""
    assert marquee("init", home=tmp_path).returncode == 0
    env = {**os.environ, "MARQUEE_HOME": str(tmp_path)}
    src = os.fsencode(tmp_path) + b"/titles\xff.csv"
    with open(src, "wb") as f:
        f.write(b"item_id,title\n1,A\n")
    for args, words in [((b"ingest", b"items", src), "bytes that are not UTF-8"),
                        ((b"export", b"items", os.fsencode(tmp_path) + b"/out\xff.csv"), "bytes that are not UTF-8")]:
        proc = subprocess.run([*MARQUEE, *args], capture_output=True, text=True, cwd=REPO, env=env, timeout=120)
        _one_error_line(proc, words)
    assert not list(tmp_path.glob("out*"))


@pytest.mark.parametrize(("folder", "command"), [
    ("staging", ("ingest", "items", "items.csv")), ("artifacts", ("train", "forecast", "--model", "mean4"))])
def test_a_home_where_a_job_cannot_make_its_folder_is_one_error_line(demo_home, tmp_path, folder, command):
    """A read-only home fails the same way as a file in the folder's place, which root cannot write past
    either: one line naming the folder, exit 2, and no run left behind (a full disk: tests/test_exit_codes.py)."""
    (tmp_path / "items.csv").write_text("item_id,title\n1,One\n")
    (demo_home / folder).write_text("in the way\n")
    proc = subprocess.run([*MARQUEE, *command, "--home", str(demo_home)], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120)
    _one_error_line(proc, f"{demo_home / folder}")
    with store.read(demo_home) as con:
        assert con.execute("SELECT count(*) FROM runs").fetchall() == [(0,)]


def test_a_full_disk_is_one_error_line_exit_1_and_the_store_unchanged(home, tmp_path):
    """A file size limit fails DuckDB's writes as a full disk does (no root needed to set one): the machine, not
    the input, so exit 1 (a scheduler may retry), one line, and the store as it was."""
    items = tmp_path / "items.csv"
    items.write_text("item_id,title\n" + "".join(f"i{i},T{i}\n" for i in range(500)))
    ingest("items", items, home)
    events = tmp_path / "events.csv"
    events.write_text("user_id,item_id,timestamp\n" + "".join(f"u{i},i{i % 500},2024-01-01\n" for i in range(100_000)))
    limit = os.path.getsize(store.store_path(home)) + 2**18

    def small_disk() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    proc = subprocess.run([*MARQUEE, "ingest", "interactions", str(events), "--home", str(home)], capture_output=True,
                          text=True, cwd=REPO, timeout=120, preexec_fn=small_disk)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.splitlines()[-1].startswith("error: IO Error: ") and "File too large" in proc.stderr
    with store.read(home) as con:
        assert con.execute("SELECT count(*) FROM interactions").fetchall() == [(0,)]
