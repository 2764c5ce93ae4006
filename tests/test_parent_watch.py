"""data.parent_watch: a helper process ends with the process that started it."""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SLEEPER = "import sys, time; from data.parent_watch import exit_with_parent; exit_with_parent({}); time.sleep(30)"


def test_a_parent_gone_before_the_watch_starts_is_noticed():
    """The parent passes its pid down: had it died before the child's watch started, the child was already
    init's, and os.getppid() at that moment would name init, not the parent it waits for."""
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-c", SLEEPER.format(1 << 22)], cwd=REPO, timeout=20)   # no such parent
    assert proc.returncode == 1 and time.monotonic() - start < 10


def test_a_live_parent_keeps_its_child():
    proc = subprocess.Popen([sys.executable, "-c", SLEEPER.format("None")], cwd=REPO)
    try:
        time.sleep(2)
        assert proc.poll() is None
    finally:
        proc.kill()
        proc.wait()
