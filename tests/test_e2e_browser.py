"""End to end: `marquee app` serves the real Streamlit app, headless Chromium visits every page.

Uses Debian's chromium + chromedriver (`make chromium`; CI runs it through `make test`). The
store is the demo store plus synthetic published outputs (see test_app.py). Screenshots of
every page land in the test's temp folder.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from test_app import publish_synthetic_outputs

from app.commands.app import in_background

CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
                       reason="Debian chromium + chromium-driver not installed (run `make chromium`)"),
]

# page url -> texts that must all be visible once it has rendered
PAGES = {
    "": ["Latest runs", "943", "Demo join", "ndcg@10", "Engagement over time"],
    "recommendations": ["Top picks", "History of user 1", "because you watched", "Models side by side"],
    "titles": ["Weekly engagement and forecast", "Similar titles", "Most positive", "p10-p90"],
    "sentiment": ["By genre", "Over time", "Reviews scored", "Try your own review"],
    "forecasts": ["Rising and falling titles", "Genre forecasts", "Backtest accuracy"],
    "sql": ["SQL explorer", "Schema", "Max rows"],
    "runs": ["Compare two runs", "Parameters", "Metrics"],
}


@pytest.fixture
def served_app(demo_home_ro: Path, tmp_path: Path):
    home = tmp_path / "home"
    shutil.copytree(demo_home_ro, home)
    facts = publish_synthetic_outputs(home)
    with open(tmp_path / "app.log", "w") as log:
        try:
            with in_background(home, timeout=60, output=log) as url:
                yield url, facts
        except RuntimeError as exc:
            pytest.fail(f"{exc}:\n{(tmp_path / 'app.log').read_text()}")


@pytest.fixture
def browser(tmp_path: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage",
                "--window-size=1400,1000", f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=opts)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def _wait_for_text(driver, *texts: str, timeout: float = 45) -> str:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def ready(d):
        body = d.find_element(By.TAG_NAME, "body").text
        running = d.find_elements(By.CSS_SELECTOR, '[data-testid="stStatusWidget"]')
        return body if all(t in body for t in texts) and not running else False

    from selenium.common.exceptions import TimeoutException

    try:
        return WebDriverWait(driver, timeout, poll_frequency=0.2).until(ready)
    except TimeoutException:
        body = driver.find_element(By.TAG_NAME, "body").text
        missing = [t for t in texts if t not in body]
        raise AssertionError(f"{driver.current_url}: never showed {missing}; page text:\n{body[-1500:]}") from None


def test_every_page_renders_in_chromium(served_app, browser, tmp_path: Path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    url, facts = served_app
    for path, markers in PAGES.items():
        browser.get(f"{url}/{path}")
        extra = [facts["user_top"]] if path == "recommendations" else []
        body = _wait_for_text(browser, *markers, *extra)
        assert not browser.find_elements(By.CSS_SELECTOR, '[data-testid="stException"]'), f"/{path}: exception"
        assert "Traceback" not in body and "Error" not in body
        browser.save_screenshot(str(tmp_path / f"page-{path or 'overview'}.png"))
        if path == "recommendations":
            assert facts["user_top"] in body          # user 1 is selected first
            box = browser.find_element(By.CSS_SELECTOR, '[data-testid="stSelectbox"] input')
            box.click()
            box.send_keys(facts["user2"])
            option = WebDriverWait(browser, 20).until(lambda d: next(
                (o for o in d.find_elements(By.CSS_SELECTOR, '[role="option"]') if o.text.strip() == facts["user2"]),
                False))
            option.click()
            _wait_for_text(browser, f"History of user {facts['user2']}", facts["user2_top"])
            browser.save_screenshot(str(tmp_path / "page-recommendations-user2.png"))
    assert len(list(tmp_path.glob("page-*.png"))) == len(PAGES) + 1


def test_store_text_is_drawn_as_plain_text(home: Path, tmp_path: Path, browser):
    """What AppTest cannot see: the frontend itself. A title, genres, a user id and a review holding a bare URL,
    `:material/home:`, `**bold**` and HTML show as those characters: no link, icon, bold or HTML element."""
    from selenium.webdriver.common.by import By
    from test_app_markdown_text import EVIL, evil_store

    from app.markdown_text import WORD_JOINER

    evil_store(home, tmp_path)
    with in_background(home, timeout=60) as url:
        for path, marker in (("titles", "Most positive"), ("recommendations", "because you watched")):
            browser.get(f"{url}/{path}")
            body = _wait_for_text(browser, marker).replace(WORD_JOINER, "")
            browser.save_screenshot(str(tmp_path / f"plain-{path}.png"))
            main = browser.find_element(By.CSS_SELECTOR, '[data-testid="stMain"]')
            links = [a.get_attribute("href") for a in main.find_elements(By.TAG_NAME, "a")]
            assert [h for h in links if not (h or "").startswith(url)] == [], path   # a heading's own anchor is fine
            icons = [i.text for i in main.find_elements(By.CSS_SELECTOR, '[data-testid="stIconMaterial"]')]
            assert "home" not in icons, path
            bold = [e.text for e in main.find_elements(By.CSS_SELECTOR, "strong, b")]   # the page's own: "Most positive"
            assert [t for t in bold if "bold" in t or t == "x"] == [], path
            assert body.count(EVIL) >= 2, f"{path}: {body[-1500:]}"   # the text itself, letter for letter


def test_the_sidebar_lists_the_apps_pages_from_the_first_load(home: Path, browser):
    """With the page files in `app/pages/`, a page opened by its URL listed the files instead ("main", "forecasts",
    "overview", ...): Streamlit's old multipage mode, which also ran the page without main.py."""
    from selenium.webdriver.common.by import By

    with in_background(home, timeout=60) as url:
        browser.get(f"{url}/recommendations")
        _wait_for_text(browser, "Recommendations", "Discover")
        nav = [a.text for a in browser.find_elements(By.CSS_SELECTOR, '[data-testid="stSidebarNav"] a')]
        assert nav == ["Overview", "Recommendations", "Titles", "Sentiment", "Forecasts", "SQL", "Runs"]
