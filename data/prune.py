"""Removing old runs' model files and published outputs, so a store that retrains every day does not
fill its disk (one EASE model over 20,000 titles is about 1.6 GB).

A pruned run keeps its registry row (params, metrics, status: the history the dashboard compares) and
loses its artifact folder and its rows in the output tables; its `artifact_uri` becomes NULL, which is
how `runs.resolve` knows to say the model was pruned. Kept, per pipeline: the newest `keep` succeeded
runs, every run whose outputs a `*_latest` view serves, and every run not finished yet (a run whose
process was killed is marked failed first, `runs.reap`, so its partial files go; a dry run counts it too).
"""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from data import paths, run_owner, store
from data.runs import OUTPUT_TABLES, abandoned_runs, reap
from data.wording import plural

# a pruned run (artifact_uri NULL) is listed again while its folder is still there: a prune that died
# after its commit and before removing the folders finishes the job next time
DOOMED = """WITH ranked AS (
    SELECT run_id, row_number() OVER (PARTITION BY pipeline ORDER BY finished_at DESC) AS newest
    FROM runs WHERE status = 'succeeded')
SELECT run_id, pipeline, status, artifact_uri IS NULL AS pruned FROM runs
WHERE (status IN ('succeeded', 'failed') OR run_id IN (SELECT unnest($abandoned)))
  AND run_id NOT IN (SELECT run_id FROM ranked WHERE newest <= $keep)
  AND run_id NOT IN (SELECT run_id FROM latest_output_runs)
ORDER BY pipeline, started_at"""


@dataclass
class PruneReport:
    runs: list[tuple[str, str, str]] = field(default_factory=list)   # (run_id, pipeline, status) newly pruned
    folders: int = 0
    bytes: int = 0
    output_rows: dict[str, int] = field(default_factory=dict)   # table -> rows removed
    left: list[str] = field(default_factory=list)   # "folder: why" for each folder that could not be removed

    def summary(self, dry_run: bool) -> str:
        if not self.runs and not self.folders:
            return "nothing to prune"
        verb = "would prune" if dry_run else "pruned"
        rows = sum(self.output_rows.values())
        by_table = ", ".join(f"{n:,} {t}" for t, n in self.output_rows.items() if n)
        return (f"{verb} {plural(len(self.runs), 'run')}: {plural(self.folders, 'model folder')} "
                f"({self.bytes / 1e6:,.1f} MB) and {plural(rows, 'output row')}" + (f" ({by_table})" if by_table else "")
                + ("" if dry_run else "; their registry rows and metrics stay (`marquee runs`)"))


def _size(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file() and not f.is_symlink())


def prune(keep: int = 3, dry_run: bool = False, home: str | os.PathLike | None = None) -> PruneReport:
    """Prune every finished run but the ones kept (see the module docstring); `dry_run` only reports."""
    if keep < 1:
        raise ValueError("keep must be at least 1: the newest run serves scoring")
    report = PruneReport()
    artifacts = paths.artifacts_root(home)
    with (store.read(home) if dry_run else store.write(home)) as con:
        gone = list(abandoned_runs(con, home))   # killed runs: their partial model files go too
        if not dry_run:
            reap(con, home)
        doomed = con.execute(DOOMED, {"keep": keep, "abandoned": gone}).fetchall()
        ids = [run_id for run_id, _, _, _ in doomed]
        report.runs = [(run_id, pipeline, status) for run_id, pipeline, status, pruned in doomed if not pruned]
        for table in OUTPUT_TABLES:   # whitelisted names
            report.output_rows[table] = con.execute(
                f"SELECT count(*) FROM {table} WHERE run_id IN (SELECT unnest($ids))", {"ids": ids}).fetchall()[0][0]
            if not dry_run:
                con.execute(f"DELETE FROM {table} WHERE run_id IN (SELECT unnest($ids))", {"ids": ids})
        if not dry_run:
            con.execute("DELETE FROM run_outputs WHERE run_id IN (SELECT unnest($ids))", {"ids": ids})
            con.execute("UPDATE runs SET artifact_uri = NULL WHERE run_id IN (SELECT unnest($ids))", {"ids": ids})
        registered = {run_id for (run_id,) in con.execute("SELECT run_id FROM runs").fetchall()}
    # only after the commit: a crash before it leaves every run whole; one after it, folders the next prune finds
    for run_id in ids + _stray(artifacts, registered):
        folder = artifacts / run_id
        if not (folder.is_dir() or folder.is_symlink()):
            continue
        try:   # one folder that cannot go (permissions, a busy mount) must not keep the others on disk
            size = 0 if folder.is_symlink() else _size(folder)
            if not dry_run:
                _remove(folder)
        except OSError as exc:
            report.left.append(f"{folder}: {exc.strerror or exc}")
            continue
        report.folders += 1
        report.bytes += size
    return report


def _stray(artifacts: Path, registered: set[str]) -> list[str]:
    """Folders no run names whose owner's process is gone: a job killed after making its run's folder and before
    registering the run. Any other unnamed folder is left alone (a run being registered right now, or not ours)."""
    if not artifacts.is_dir():
        return []
    return sorted(f.name for f in artifacts.iterdir()
                  if f.name not in registered and f.is_dir() and not f.is_symlink() and run_owner.abandoned(f))


def _remove(folder: Path) -> None:
    """A run's folder; one linked elsewhere loses the link only: the target is not the home's to delete (and
    rmtree refuses a link, which stopped every prune at that run)."""
    if folder.is_symlink():
        folder.unlink()
    else:
        shutil.rmtree(folder)
