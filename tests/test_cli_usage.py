"""The command line as a person meets it: options where they are written."""
from __future__ import annotations

import pytest

from app.cli import build_parser
from tests.ingest_helpers import marquee


@pytest.mark.parametrize("line", [
    "--home A evaluate sentiment", "evaluate --home A sentiment", "evaluate sentiment --home A",
    "--home B evaluate --home A sentiment", "evaluate --home B sentiment --home A",   # the last one written wins
])
def test_home_is_read_wherever_it_is_written(tmp_path, line):
    args = [str(tmp_path / word) if word in ("A", "B") else word for word in line.split()]
    proc = marquee(*args, home=tmp_path / "env")
    assert proc.returncode == 2 and f"no store at {tmp_path / 'A' / 'store.duckdb'}" in proc.stderr, proc.stderr


def test_options_before_a_command_that_does_not_use_them(home):
    proc = marquee("--seed", "3", "--profile", "quick", "--device", "cpu", "runs", home=home)
    assert proc.returncode == 0 and "no runs yet" in proc.stdout, proc.stderr


@pytest.mark.parametrize("line", [
    "--home H --profile full --device cpu --seed 3 train recsys",
    "train --home H --profile full --device cpu --seed 3 recsys",
    "train recsys --home H --profile full --device cpu --seed 3",
    "--home X --profile quick --device cuda --seed 1 train --home H --seed 2 recsys --profile full --device cpu "
    "--seed 3",
])
def test_common_options_anywhere_on_the_line_last_one_wins(line):
    args = build_parser().parse_args(line.split())
    assert (args.home, args.profile, args.device, args.seed) == ("H", "full", "cpu", 3)


@pytest.mark.parametrize("line", ["train recsys", "runs", "evaluate forecast"])
def test_common_options_default_when_not_written(line):
    args = build_parser().parse_args(line.split())
    assert (args.home, args.profile, args.device, args.seed) == (None, "auto", "auto", 42)
