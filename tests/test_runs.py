"""The run registry and atomic publishing."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from data import run_owner, runs, store
from data.errors import MarqueeError
from data.prune import prune


def _recs(user: str, n: int) -> pd.DataFrame:
    return pd.DataFrame({"user_id": [user] * n, "item_id": [str(i) for i in range(n)], "rank": range(1, n + 1),
                         "score": [1.0 / (i + 1) for i in range(n)], "reason": ["popular"] * n})


def _latest(home, table: str) -> pd.DataFrame:
    with store.read(home) as con:
        return con.sql(f"SELECT * FROM {table}_latest").df()


def test_latest_view_serves_newest_succeeded_run(home):
    first = runs.start("recsys", "ease", {}, home=home)
    runs.publish(first.run_id, {"recommendations": _recs("u1", 3)}, home=home)
    second = runs.start("recsys", "mf", {}, home=home)
    assert set(_latest(home, "recommendations").run_id) == {first.run_id}   # second not published yet
    runs.publish(second.run_id, {"recommendations": _recs("u2", 5)}, home=home)
    latest = _latest(home, "recommendations")
    assert set(latest.run_id) == {second.run_id} and len(latest) == 5


def test_failed_publish_leaves_nothing(home):
    run = runs.start("recsys", "ease", {}, home=home)
    bad = pd.DataFrame({"item_id": ["1"], "similar_item_id": ["2"], "rank": ["first"], "score": [1.0]})  # rank: not an int
    with pytest.raises(duckdb.ConversionException):
        runs.publish(run.run_id, {"recommendations": _recs("u9", 2), "similar_items": bad}, home=home)
    with store.read(home) as con:
        assert con.sql("SELECT count(*) FROM recommendations").fetchall()[0][0] == 0
        assert con.sql("SELECT status FROM runs").fetchall()[0][0] == "running"


def test_metrics_merge_and_resolve(home):
    run = runs.start("forecast", "nhits", {"horizon": 4}, home=home)
    runs.publish(run.run_id, metrics={"val_wape": 0.4}, home=home)
    runs.record_metrics(run.run_id, {"backtest": {"wape": 0.41}}, home=home)
    got = runs.resolve("forecast", None, home=home)
    assert got["run_id"] == run.run_id and got["metrics"] == {"val_wape": 0.4, "backtest": {"wape": 0.41}}
    with pytest.raises(MarqueeError, match="not recsys"):
        runs.resolve("recsys", run.run_id, home=home)
    with pytest.raises(MarqueeError, match="marquee train sentiment"):
        runs.resolve("sentiment", None, home=home)


def test_a_run_still_training_is_not_resolved(home):
    """Its model files may be half-written; scoring it would also mark it succeeded before training says so."""
    run = runs.start("recsys", "ease", {}, home=home)
    with pytest.raises(MarqueeError, match="is still running: it has no model to use until it succeeds"):
        runs.resolve("recsys", run.run_id, home=home)


# a training process as far as the registry sees it: it starts a run, then works (sleeps) until killed
TRAINER = "import sys, time; from data import runs; print(runs.start('recsys', 'ease', {}, home=sys.argv[1]).run_id, " \
          "flush=True); time.sleep(120)"


def trainer(home: Path) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, "-c", TRAINER, str(home)], stdout=subprocess.PIPE, text=True)
    return proc, proc.stdout.readline().strip()


def test_a_run_whose_process_was_killed_does_not_stay_running(home):
    """kill -9 skips the trainer's own `runs.fail`: readers call the run failed at once, the next write records
    it, and prune removes its partial files; a run whose process is alive stays running."""
    killed, killed_id = trainer(home)
    alive, alive_id = trainer(home)
    try:
        (home / "artifacts" / killed_id / "model.bin").write_bytes(b"half")
        killed.kill()
        killed.wait()
        listed = {r["run_id"]: r for r in runs.list_runs(home=home)}
        assert listed[killed_id]["status"] == "failed" and listed[killed_id]["error"].startswith("abandoned: ")
        assert listed[alive_id]["status"] == "running"
        with pytest.raises(MarqueeError, match=f"run '{killed_id}' failed \\(abandoned: process"):
            runs.resolve("recsys", killed_id, home=home)
        assert [r[0] for r in prune(keep=1, dry_run=True, home=home).runs] == [killed_id]
        later = runs.start("forecast", "mean4", {}, home=home)
        with store.read(home) as con:
            status = dict(con.execute("SELECT run_id, status FROM runs").fetchall())
        assert status == {killed_id: "failed", alive_id: "running", later.run_id: "running"}
        assert [r[0] for r in prune(keep=1, home=home).runs] == [killed_id]
        assert not (home / "artifacts" / killed_id).exists() and (home / "artifacts" / alive_id).is_dir()
    finally:
        alive.kill()
        alive.wait()


def test_a_killed_run_whose_parent_has_not_waited_for_it_is_abandoned(home):
    """A trainer killed (the OOM killer) under a scheduler that has not waited for it yet is a zombie: its pid
    still answers signal 0, yet the run can never finish."""
    zombie, run_id = trainer(home)
    try:
        zombie.kill()
        deadline = time.monotonic() + 10
        while Path(f"/proc/{zombie.pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z":
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert runs.get(run_id, home=home)["error"].startswith("abandoned: ")
    finally:
        zombie.wait()


def _killed_trainers_owner(home) -> Path:
    """The owner file of a run whose trainer was killed (and waited for): what the next tests rewrite."""
    killed, run_id = trainer(home)
    killed.kill()
    killed.wait()
    return home / "artifacts" / run_id / run_owner.OWNER_FILE


def test_a_pid_another_process_took_since_does_not_keep_a_run_running(home):
    """The owner's pid now belongs to a process started later (this one; a container's pid 1 each time): its
    start time differs from the one recorded, so the run is abandoned, not `running` forever."""
    owner = _killed_trainers_owner(home)
    host, _, started, namespace = owner.read_text().split()
    owner.write_text(f"{host} {os.getpid()} {started} {namespace}")
    assert runs.get(owner.parent.name, home=home)["status"] == "failed"
    owner.write_text(f"{host} {os.getpid()}")   # recorded by a Marquee that wrote no start time: not told apart
    assert runs.get(owner.parent.name, home=home)["status"] == "running"


def test_a_run_trained_in_another_pid_namespace_is_not_called_abandoned(home):
    """A container sharing the host's name (`--network host`) and the home trains as its own pid 1234: that pid
    is gone from here, yet the run is alive there, and reaping it would let prune delete its files mid-training."""
    owner = _killed_trainers_owner(home)
    host, pid, started, _ = owner.read_text().split()
    owner.write_text(f"{host} {pid} {started} pid:[1]")
    assert runs.get(owner.parent.name, home=home)["status"] == "running"
    assert prune(keep=1, home=home).runs == [] and owner.exists()


def test_a_run_the_store_refuses_leaves_no_folder(home):
    """A run that could not be registered (here: a store of another schema version) leaves no artifact folder
    that no registry row names, which prune would never find."""
    with store.write(home) as con:
        con.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(MarqueeError, match="schema version 99"):
        runs.start("recsys", "ease", {}, home=home)
    assert not list((home / "artifacts").iterdir())


def test_appending_publishes_count_the_runs_total_rows(home):
    run = runs.start("recsys", "ease", {}, home=home)
    assert runs.publish(run.run_id, {"recommendations": _recs("u1", 3)}, home=home) == {"recommendations": 3}
    assert runs.publish(run.run_id, {"recommendations": _recs("u2", 4)}, replace=False, home=home) == {"recommendations": 7}
    with store.read(home) as con:
        assert con.sql("SELECT \"rows\" FROM run_outputs").fetchall() == [(7,)]
        assert con.sql("SELECT count(*) FROM recommendations_latest").fetchall() == [(7,)]


def test_two_scorers_publishing_the_same_reviews_leave_one_score_each(home):
    """Two `marquee score sentiment` at once both find the same reviews unscored and publish them one after the
    other (the write lock serialises them): the second's scores replace the first's, never a second copy."""
    run = runs.start("sentiment", "tfidf", {}, home=home)
    runs.publish(run.run_id, metrics={}, home=home)
    scores = pd.DataFrame({"review_id": ["r1", "r2"], "p_positive": [0.9, 0.2], "label": [1, 0]})
    for p in ([0.9, 0.2], [0.8, 0.1]):
        counts = runs.publish(run.run_id, {"review_sentiment": scores.assign(p_positive=p)}, replace=False,
                              replace_keys={"review_sentiment": []}, home=home)
    assert counts == {"review_sentiment": 2}
    with store.read(home) as con:
        assert con.sql("SELECT review_id, p_positive FROM review_sentiment_latest ORDER BY 1").fetchall() == [
            ("r1", 0.8), ("r2", 0.1)]


def test_scoring_an_older_run_does_not_make_it_the_latest_model(home):
    old = runs.start("recsys", "ease", {}, home=home)
    runs.publish(old.run_id, home=home)
    new = runs.start("recsys", "ials", {}, home=home)
    runs.publish(new.run_id, home=home)
    runs.publish(old.run_id, {"recommendations": _recs("u1", 2)}, home=home)   # re-score with the old model
    assert runs.latest("recsys", home)["run_id"] == new.run_id
    assert set(_latest(home, "recommendations").run_id) == {old.run_id}      # its outputs are what is live


def test_a_home_moves_with_its_model_files(home, tmp_path):
    """Runs record their folder relative to the home, so a copied home reads its own copy."""
    run = runs.start("recsys", "ease", {}, home=home)
    (run.artifacts / "model.json").write_text("{}")
    runs.publish(run.run_id, home=home)
    moved = tmp_path / "moved"
    shutil.copytree(home, moved)
    shutil.rmtree(home)
    found = Path(runs.get(run.run_id, moved)["artifact_uri"])
    assert found == moved.resolve() / "artifacts" / run.run_id and (found / "model.json").exists()
    assert Path(runs.latest("recsys", moved)["artifact_uri"]) == found



def test_a_moved_home_of_an_older_store_reads_its_own_model_files(home, tmp_path):
    """Older stores recorded the absolute folder: a moved home read the old place (gone, or another copy's files)
    while `marquee prune` removed the home's own folder of the run."""
    import duckdb

    run = runs.start("recsys", "ease", {}, home=home)
    (run.artifacts / "model.json").write_text("{}")
    runs.publish(run.run_id, home=home)
    con = duckdb.connect(str(home / "store.duckdb"))
    con.execute("UPDATE runs SET artifact_uri = $uri", {"uri": str(run.artifacts.resolve())})
    con.close()
    moved = tmp_path / "moved"
    shutil.copytree(home, moved)
    shutil.rmtree(home)
    assert runs.resolve("recsys", run.run_id, moved)["artifact_uri"] == str(moved.resolve() / "artifacts" / run.run_id)

def test_a_failed_run_leaves_no_empty_folder(home):
    run = runs.start("recsys", "ease", {}, home=home)
    assert run.artifacts.is_dir()
    runs.fail(run.run_id, "ValueError: nothing to train on", home=home)
    assert not run.artifacts.exists() and runs.get(run.run_id, home)["status"] == "failed"
    kept = runs.start("recsys", "ease", {}, home=home)
    (kept.artifacts / "partial.json").write_text("{}")   # something was saved: kept for a post-mortem
    runs.fail(kept.run_id, "KeyboardInterrupt: ", home=home)
    assert (kept.artifacts / "partial.json").exists()


def test_runs_command_shows_one_short_line_per_run(home):
    """`marquee runs` is a table a person reads: headline metrics or the error, never the metrics JSON."""
    from tests.ingest_helpers import marquee

    done = runs.start("recsys", "ease", {"l2": 500.0}, home=home)
    many = {f"candidate_{i}": {"validation": {"ndcg@10": 0.1 * i, "recall@10": 0.2}} for i in range(40)}
    runs.publish(done.run_id, metrics={"validation": {"ndcg@10": 0.45049, "recall@10": 0.2428}, **many}, home=home)
    failed = runs.start("forecast", "nhits", {}, home=home)
    runs.fail(failed.run_id, "ValueError: no series with 20 events\nTraceback ...", home=home)
    out = marquee("runs", home=home)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split()[:4] == ["run_id", "pipeline", "model", "status"] and len(lines) == 3
    assert all(len(line) < 160 for line in lines)
    by_run = {line.split()[0]: line for line in lines[1:]}
    assert "ndcg@10 0.4505" in by_run[done.run_id] and "candidate_" not in by_run[done.run_id]
    assert by_run[failed.run_id].endswith("ValueError: no series with 20 events")

    full = marquee("runs", "--format", "json", home=home)
    records = {r["run_id"]: r for r in json.loads(full.stdout)}
    assert records[done.run_id]["metrics"]["candidate_39"]["validation"]["ndcg@10"] == pytest.approx(3.9)
    assert records[done.run_id]["params"] == {"l2": 500.0} and records[failed.run_id]["status"] == "failed"


def test_the_overview_marks_the_selected_candidates_score():
    """A forecast run lists every recipe's WAPE; the one it chose (here not the lowest) is named as chosen, and
    a recipe whose name merely ends like it (nhits*0.75+mean4 beside mean4) is not."""
    from app.run_metrics import headline_metrics, with_selected_marked

    metrics = {"selected": "mean4", "inner_backtest_wape": {"nhits": 0.61, "mean4": 0.68, "nhits*0.75+mean4": 0.606}}
    marked = with_selected_marked(headline_metrics(metrics), metrics)
    assert list(marked)[0] == "inner_backtest_wape.mean4 (selected)"
    assert sorted(list(marked)[1:]) == ["inner_backtest_wape.nhits", "inner_backtest_wape.nhits*0.75+mean4"]
    plain = {"validation": {"ndcg@10": 0.45}}
    assert with_selected_marked(headline_metrics(plain), plain) == {"validation.ndcg@10": 0.45}


def test_headline_puts_the_selected_models_score_first():
    from app.run_metrics import headline_metrics

    metrics = {"selected": "nhits*0.75+mean4", "select_seconds": 58.8,
               "inner_backtest_wape": {"nhits": 0.61, "mean4": 0.68, "naive": 1.06, "nhits*0.75+mean4": 0.606}}
    assert list(headline_metrics(metrics, n=3).items()) == [
        ("inner_backtest_wape.nhits*0.75+mean4", 0.606), ("inner_backtest_wape.nhits", 0.61),
        ("inner_backtest_wape.mean4", 0.68)]
    plain = {"validation": {"ndcg@10": 0.45, "recall@10": 0.24}, "train_seconds": 17.4}
    assert list(headline_metrics(plain)) == ["validation.ndcg@10", "validation.recall@10"]
    sentiment = {"val": {"accuracy": 0.893, "nll": 0.25, "auc": 0.973}, "val_nblr": {"accuracy": 0.91, "auc": 0.96}}
    assert list(headline_metrics(sentiment)) == ["val.accuracy", "val.auc"]   # not the baseline beside it


def test_prune_removes_old_runs_files_and_outputs_and_keeps_what_is_served(home):
    """Kept: the newest `keep` succeeded runs, the run whose outputs the latest views serve (here an old one,
    re-scored), and a run still training. Pruned runs keep their registry row and say why they cannot be used."""
    from data import prune
    from tests.ingest_helpers import marquee

    def run(status: str, recs: int = 0) -> str:
        r = runs.start("recsys", "ease", {}, home=home)
        (r.artifacts / "model.bin").write_bytes(b"x" * 1000)
        if status == "failed":
            runs.fail(r.run_id, "ValueError: bad", home=home)
        elif status == "succeeded":
            runs.publish(r.run_id, {"recommendations": _recs("u1", recs)} if recs else None, home=home)
        return r.run_id

    served, old, failed, newer, newest, training = (run("succeeded"), run("succeeded", 4), run("failed"),
                                                    run("succeeded"), run("succeeded"), run("running"))
    runs.publish(served, {"recommendations": _recs("u2", 3)}, home=home)   # re-scored: its rows are live now
    live = _latest(home, "recommendations")
    artifacts = home / "artifacts"

    dry = prune.prune(keep=2, dry_run=True, home=home)
    assert {r for r, _, _ in dry.runs} == {old, failed} and dry.folders == 2 and dry.bytes == 2000
    assert dry.output_rows["recommendations"] == 4
    assert (artifacts / old).is_dir() and runs.get(old, home)["artifact_uri"]   # a dry run changes nothing

    out = marquee("prune", "--keep", "2", home=home)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("pruned 2 runs: 2 model folders (0.0 MB) and 4 output rows (4 recommendations)")
    assert sorted(p.name for p in artifacts.iterdir()) == sorted([served, newer, newest, training])
    pd.testing.assert_frame_equal(_latest(home, "recommendations"), live)
    with store.read(home) as con:
        assert con.sql("SELECT DISTINCT run_id FROM recommendations").fetchall() == [(served,)]
        assert con.sql("SELECT count(*) FROM runs").fetchall() == [(6,)]
        assert con.execute("SELECT count(*) FROM run_outputs WHERE run_id = $r", {"r": old}).fetchall() == [(0,)]
    with pytest.raises(MarqueeError, match=f"^the model files of run '{old}' were removed by `marquee prune`"):
        runs.resolve("recsys", old, home=home)
    assert runs.get(failed, home)["status"] == "failed"
    listed = marquee("runs", home=home).stdout
    assert {line.split()[0] for line in listed.splitlines() if "(pruned)" in line} == {old, failed}

    assert marquee("prune", home=home).stdout.strip() == "nothing to prune"
    (artifacts / old).mkdir()   # a prune that died after its commit left this folder: the next one removes it
    (artifacts / old / "model.bin").write_bytes(b"x")
    again = prune.prune(keep=2, home=home)
    assert again.runs == [] and again.folders == 1 and not (artifacts / old).exists()
    assert marquee("prune", "--keep", "0", home=home).returncode == 2


def test_prune_removes_a_linked_run_folder_as_a_link_and_goes_past_one_it_cannot_remove(home, tmp_path, monkeypatch,
                                                                                        capsys):
    """rmtree refuses a link: a run folder linked to another disk stopped every prune there, with a traceback, and
    left the folders after it on disk. The link goes, its target stays; a folder that cannot be removed is a warning
    naming it and exit 1, the others still go."""
    import shutil

    from app.cli import main as cli
    from tests.ingest_helpers import marquee

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "model.bin").write_bytes(b"x" * 10)
    ids = []
    for _ in range(4):
        r = runs.start("recsys", "ease", {}, home=home)
        (r.artifacts / "model.bin").write_bytes(b"x" * 1000)
        runs.publish(r.run_id, home=home)
        ids.append(r.run_id)
    artifacts = home / "artifacts"
    shutil.rmtree(artifacts / ids[0])
    (artifacts / ids[0]).symlink_to(elsewhere, target_is_directory=True)

    out = marquee("prune", "--keep", "1", home=home)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("pruned 3 runs: 3 model folders (0.0 MB)")
    assert sorted(p.name for p in artifacts.iterdir()) == [ids[3]] and (elsewhere / "model.bin").exists()

    stuck = artifacts / ids[1]
    stuck.mkdir()   # as if the last prune could not remove it
    real_rmtree = shutil.rmtree

    def refuse(path, *args, **kwargs):
        if Path(path) == stuck:
            raise PermissionError(13, "Permission denied")
        real_rmtree(path, *args, **kwargs)

    (artifacts / ids[2]).mkdir()
    monkeypatch.setattr(shutil, "rmtree", refuse)
    assert cli(["prune", "--keep", "1", "--home", str(home)]) == 1
    assert capsys.readouterr().err == f"warning: cannot remove {stuck}: Permission denied; the next `marquee prune` " \
                                      "tries again\n"
    assert sorted(p.name for p in artifacts.iterdir()) == sorted([ids[1], ids[3]])


def test_a_run_pruned_while_it_scored_publishes_nothing(home):
    """A score loads its model, then publishes minutes later: a prune in between removed the run's outputs, and the
    publish put them back, making a run with no model files the one the latest views serve."""
    from data import prune

    old, new = (runs.start("recsys", "ease", {}, home=home) for _ in range(2))
    runs.publish(old.run_id, home=home)
    runs.publish(new.run_id, {"recommendations": _recs("u1", 2)}, home=home)
    live = _latest(home, "recommendations")
    assert [r for r, _, _ in prune.prune(keep=1, home=home).runs] == [old.run_id]
    with pytest.raises(MarqueeError, match="was pruned .* while it was scoring: nothing was published"):
        runs.publish(old.run_id, {"recommendations": _recs("u2", 3)}, home=home)
    pd.testing.assert_frame_equal(_latest(home, "recommendations"), live)
    runs.publish(old.run_id, metrics={"note": 1}, home=home)   # no outputs: nothing to serve, as record_metrics
    assert runs.get(old.run_id, home)["metrics"] == {"note": 1}


def test_a_run_stuck_running_is_marked_failed_by_hand_but_not_while_it_trains(home):
    """A run killed under a Marquee that recorded no owner stays `running` (nothing tells it from a live one);
    `marquee runs --mark-failed` ends it, so prune can remove its files, but refuses while its process runs here."""
    from tests.ingest_helpers import marquee

    live = runs.start("recsys", "ease", {}, home=home)   # owned by this (running) test process
    out = marquee("runs", "--mark-failed", live.run_id, home=home)
    assert out.returncode == 2 and f"is still training (process {os.getpid()} on" in out.stderr
    (live.artifacts / run_owner.OWNER_FILE).unlink()   # as a run started before owners were recorded
    (live.artifacts / "partial.bin").write_bytes(b"x")
    assert runs.get(live.run_id, home=home)["status"] == "running"
    out = marquee("runs", "--mark-failed", live.run_id, home=home)
    assert out.returncode == 0 and out.stdout.startswith(f"marked run {live.run_id} failed"), out.stderr
    assert runs.get(live.run_id, home=home)["error"].startswith("abandoned: marked failed by hand")
    assert prune(keep=1, home=home).runs == [(live.run_id, "recsys", "failed")] and not live.artifacts.exists()
    again = marquee("runs", "--mark-failed", live.run_id, home=home)
    assert again.returncode == 2 and "is failed, not running" in again.stderr
    assert "unknown run 'nope'" in marquee("runs", "--mark-failed", "nope", home=home).stderr


def test_prune_removes_a_folder_no_run_names_only_when_its_owner_is_gone(home):
    """A job killed between making its run's folder and registering the run left a folder no registry row names:
    prune removes it once its owner's process is gone, and leaves a live owner's folder (a run registering right
    now) and a folder with no owner (not Marquee's to judge) alone."""
    artifacts = home / "artifacts"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    killed, live, unknown = (artifacts / f"recsys-2026{n}-x" for n in ("killed", "live", "unknown"))
    for folder in (killed, live, unknown):
        folder.mkdir(parents=True)
        (folder / "partial.bin").write_bytes(b"x" * 10)
    # start time 0 matches no process: a pid taken again since still reads as gone
    (killed / run_owner.OWNER_FILE).write_text(
        f"{socket.gethostname()} {dead.stdout.strip()} 0 {os.readlink('/proc/self/ns/pid')}")
    run_owner.claim(live)
    assert prune(keep=1, dry_run=True, home=home).folders == 1 and killed.exists()
    report = prune(keep=1, home=home)
    assert (report.runs, report.folders) == ([], 1)
    assert not killed.exists() and live.exists() and unknown.exists()
