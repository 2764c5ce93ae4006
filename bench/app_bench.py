"""How fast each dashboard page renders: MovieLens-100k store (every page) and a 10M-event store (Overview).

    .venv/bin/python bench/app_bench.py                  # ML-100k pages + 10M Overview
    .venv/bin/python bench/app_bench.py --skip-10m       # ML-100k only

Two measurements per page:
- AppTest: the page's script run in-process (`streamlit.testing`), cold (st.cache_data cleared, so
  every query hits DuckDB) and warm (cached); median of --repeats runs. Baseline in the same run:
  an empty page through the same router path (the framework's own floor).
- Browser: `marquee app` serving the store, headless Chromium; seconds from navigation until the
  page's content is visible (Debian chromium; skipped if absent). Baseline: the /_stcore/health
  round trip.
The ML-100k store is built through the CLI: `marquee demo --no-app` when all three pipelines are
installed (--outputs demo), else `marquee load-demo` plus the synthetic published outputs the app
tests use (--outputs synthetic). The 10M store comes from bench/gen_store.py. For the 10M Overview,
the same weekly-engagement question asked of the raw `interactions` table is timed as the baseline
the cached `item_engagement_daily` aggregate is compared against.
JSON to bench/results/app-<stamp>.json; summary in docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from common import ROOT, git_commit, machine, versions

from app.commands.app import in_background

sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "bench")]
WORK = ROOT / "bench" / "work"
MAIN = str(ROOT / "app" / "main.py")
MARQUEE = str(Path(sys.executable).parent / "marquee")
PAGES = {  # page file -> (sidebar title, text visible once the page has rendered)
    "overview": ("Overview", "Latest runs"),
    "recommendations": ("Recommendations", "Models side by side"),
    "titles": ("Titles", "Similar titles"),
    "sentiment": ("Sentiment", "Try your own review"),
    "forecasts": ("Forecasts", "Backtest accuracy"),
    "sql": ("SQL", "Max rows"),
    "runs": ("Runs", "Compare two runs"),
}
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
RAW_WEEKLY = "SELECT date_trunc('week', ts) AS week, count(*) AS events FROM interactions GROUP BY 1 ORDER BY 1"


def sh(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def build_ml100k(home: Path, outputs: str) -> dict:
    if home.exists():
        shutil.rmtree(home)
    have_all = all(importlib.util.find_spec(f"{p}.api") for p in ("recsys", "nlp", "forecasting"))
    mode = ("demo" if have_all else "synthetic") if outputs == "auto" else outputs
    if mode == "demo":
        cmd = [MARQUEE, "demo", "--no-app", "--home", str(home)]
        return {"mode": mode, "command": " ".join(cmd[1:]), "build_s": sh(cmd)}
    cmd = [MARQUEE, "load-demo", "--home", str(home)]
    build_s = sh(cmd)
    from test_app import publish_synthetic_outputs

    t0 = time.perf_counter()
    publish_synthetic_outputs(home)
    return {"mode": mode, "command": " ".join(cmd[1:]) + " + tests/test_app.publish_synthetic_outputs",
            "build_s": build_s, "publish_synthetic_s": time.perf_counter() - t0}


def apptest_times(home: Path, pages: list[str], repeats: int) -> dict:
    """Median seconds of one script run of each page, cold (cache cleared) and warm."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    os.environ["MARQUEE_HOME"] = str(home)
    empty = ROOT / "bench" / "work" / "empty_page.py"
    empty.write_text("import streamlit as st\nst.title('empty')\n")
    out = {}
    for page in [*pages, "_empty"]:
        cold, warm = [], []
        for _ in range(repeats):
            if page == "_empty":
                at = AppTest.from_file(str(empty), default_timeout=120)
                st.cache_data.clear()
                t0 = time.perf_counter()
                at.run()
                cold.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                at.run()
                warm.append(time.perf_counter() - t0)
                continue
            at = AppTest.from_file(MAIN, default_timeout=120).run()
            if page != "overview":
                at.switch_page(f"views/{page}.py")
            st.cache_data.clear()
            t0 = time.perf_counter()
            at.run()
            cold.append(time.perf_counter() - t0)
            assert not at.exception, f"{page}: {at.exception}"
            t0 = time.perf_counter()
            at.run()
            warm.append(time.perf_counter() - t0)
        out[page] = {"cold_s": statistics.median(cold), "warm_s": statistics.median(warm),
                     "cold_runs_s": cold, "warm_runs_s": warm}
    return out


def _wait_for(driver, want: list[str], gone: str | None = None, timeout: float = 120) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def ready(d) -> bool:
        body = d.find_element(By.TAG_NAME, "body").text
        return (all(w in body for w in want) and (gone is None or gone not in body)
                and not d.find_elements(By.CSS_SELECTOR, '[data-testid="stStatusWidget"]'))

    WebDriverWait(driver, timeout, poll_frequency=0.05).until(ready)


def browser_times(home: Path, pages: list[str], repeats: int, extra: dict[str, str] | None = None) -> dict:
    """Seconds from a click in the sidebar until the page's content is visible, as a user moves around.

    The first full load of the app (fetching the frontend, opening the websocket) is reported
    apart, as `first_load_s`. Each round visits every page once; round 1 finds the server's query
    cache cold for that page, later rounds warm.
    """
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        return {"skipped": "chromium not installed"}
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    profile = WORK / "chromium-profile"
    shutil.rmtree(profile, ignore_errors=True)
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage",
                "--window-size=1400,1000", f"--user-data-dir={profile}"):
        opts.add_argument(arg)
    want = {p: [PAGES[p][1], *([extra[p]] if extra and p in extra else [])] for p in pages}
    out: dict = {}
    with in_background(home, timeout=90) as url:
        driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=opts)
        try:
            t0 = time.perf_counter()
            urllib.request.urlopen(f"{url}/_stcore/health", timeout=5)
            out["_health_roundtrip_s"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            driver.get(url)
            _wait_for(driver, want["overview"] if "overview" in want else ["Latest runs"])
            out["first_load_s"] = time.perf_counter() - t0   # overview, cold, incl. the frontend bundle
            times: dict[str, list[float]] = {p: [] for p in pages}
            current = "overview"
            for _ in range(repeats):
                for page in pages:
                    if page == current:   # go elsewhere first, so every visit is a real page switch
                        other = next(p for p in PAGES if p != page)
                        _click(driver, PAGES[other][0])
                        _wait_for(driver, [PAGES[other][1]], gone=PAGES[page][1])
                        current = other
                    t0 = time.perf_counter()
                    _click(driver, PAGES[page][0])
                    _wait_for(driver, want[page], gone=PAGES[current][1])
                    times[page].append(time.perf_counter() - t0)
                    current = page
            for page, runs in times.items():
                out[page] = {"first_s": runs[0], "median_s": statistics.median(runs), "runs_s": runs}
        finally:
            driver.quit()
    return out


def _click(driver, title: str) -> None:
    from selenium.webdriver.common.by import By

    links = driver.find_elements(By.CSS_SELECTOR, '[data-testid="stSidebarNav"] a')
    next(a for a in links if a.text.strip() == title).click()


def raw_vs_aggregate(home: Path, repeats: int) -> dict:
    """The Overview's weekly-engagement question: raw interactions scan vs the cached daily aggregate."""
    from app.queries import ENGAGEMENT_WEEKLY
    from data import store

    def timed(sql: str) -> float:
        runs = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            with store.read(home) as con:
                con.execute(sql).df()
            runs.append(time.perf_counter() - t0)
        return statistics.median(runs)

    raw, agg = timed(RAW_WEEKLY), timed(ENGAGEMENT_WEEKLY)
    return {"raw_interactions_s": raw, "item_engagement_daily_s": agg, "speedup": raw / agg}




def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--outputs", choices=["auto", "demo", "synthetic"], default="auto")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--interactions", type=int, default=10_000_000)
    ap.add_argument("--store", type=Path, help="measure this existing ML-100k store instead of building one")
    ap.add_argument("--skip-10m", action="store_true")
    ap.add_argument("--no-browser", action="store_true")
    args = ap.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    commit = git_commit()
    result: dict = {"command": "python bench/app_bench.py " + " ".join(sys.argv[1:]), "git_commit": commit,
                    "started": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine("shared with other jobs (4 other helpers building and testing on the same 2 cores)"),
                    "versions": versions("streamlit", "duckdb", "pandas", "altair", "selenium"), "targets": {"page_s": 1.0, "overview_10m_s": 2.0}}
    pages = list(PAGES)

    if args.store:   # a store `marquee demo --no-app --home PATH` already built: measure it as it is
        home = args.store.resolve()
        result["ml100k"] = {"store": {"mode": "given", "path": str(home),
                                      "note": "built beforehand by `marquee demo --no-app --home PATH`"}}
    else:
        home = WORK / "app-ml100k"
        result["ml100k"] = {"store": build_ml100k(home, args.outputs)}
    print("ml100k store:", result["ml100k"]["store"], flush=True)
    result["ml100k"]["apptest"] = apptest_times(home, pages, args.repeats)
    print("ml100k apptest:", {p: round(v["cold_s"], 3) for p, v in result["ml100k"]["apptest"].items()}, flush=True)
    if not args.no_browser:
        result["ml100k"]["browser"] = browser_times(home, pages, args.repeats)
        print("ml100k browser:", result["ml100k"]["browser"], flush=True)

    if not args.skip_10m:
        big = WORK / f"app-{args.interactions // 1_000_000}m"
        shutil.rmtree(big, ignore_errors=True)
        from gen_store import generate

        t0 = time.perf_counter()
        gen = generate(big, interactions=args.interactions)
        gen["total_s"] = time.perf_counter() - t0
        from data import store

        with store.read(big) as con:
            sizes = {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]
                     for t in ("users", "items", "interactions", "item_engagement_daily")}
        result["store_10m"] = {"generate": gen, "rows": sizes,
                               "overview_apptest": apptest_times(big, ["overview"], args.repeats)["overview"],
                               "weekly_engagement_query": raw_vs_aggregate(big, args.repeats)}
        if not args.no_browser:
            result["store_10m"]["overview_browser"] = browser_times(
                big, ["overview"], args.repeats, extra={"overview": f"{args.interactions:,}"})
        print("10m:", result["store_10m"], flush=True)

    self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    child_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result["peak_memory_mb"] = {"bench_process": self_kb / 1024, "largest_child": child_kb / 1024}
    result["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    out = ROOT / "bench" / "results" / f"app-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
