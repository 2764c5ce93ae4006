"""Metrics of a run on a user's labelled file (`marquee evaluate sentiment --labeled FILE`), and the name
they are recorded under in the run's metrics.
"""
from __future__ import annotations

from pathlib import Path


def eval_key(path: str | Path) -> str:
    """`eval:<absolute path>`: two files of one name (a/reviews.csv, b/reviews.csv) keep separate results,
    and evaluating the same file again replaces its own."""
    return f"eval:{Path(path).resolve()}"
