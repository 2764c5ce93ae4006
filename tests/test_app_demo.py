"""`marquee demo --no-app` end to end (slow: trains all three pipelines), then every page has data."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

MAIN = str(Path(__file__).resolve().parents[1] / "app" / "main.py")
PAGES = ["recommendations", "titles", "sentiment", "forecasts", "sql", "runs"]


@pytest.mark.slow
def test_demo_batch_then_every_page_has_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    home = tmp_path / "home"
    out = subprocess.run([sys.executable, "-m", "app.cli", "demo", "--no-app", "--home", str(home)],
                         capture_output=True, text=True, timeout=1800)
    assert out.returncode == 0, out.stderr[-3000:]
    for step in ("train recsys", "score recsys", "train sentiment", "score sentiment", "train forecast",
                 "score forecast", "batch part finished"):
        assert f"[demo] {step}" in out.stdout
    monkeypatch.setenv("MARQUEE_HOME", str(home))
    at = AppTest.from_file(MAIN, default_timeout=120).run()
    assert not at.exception and not at.info, [i.value for i in at.info]   # no empty states on the Overview
    for name in PAGES:
        at.switch_page(f"views/{name}.py").run()
        assert not at.exception, (name, at.exception)
        assert not [i.value for i in at.info if "run `marquee" in i.value], (name, [i.value for i in at.info])
