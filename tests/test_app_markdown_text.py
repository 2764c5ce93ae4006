"""Text from the store reads as the text it is on the dashboard: no bold, link, icon, emoji or HTML made from it.

Streamlit 1.67's frontend turns markdown source into a page in two steps: it parses the source (backslash
escapes resolved), then rewrites the text it found: GFM links bare URLs, `www.` names and e-mail addresses, and
its plugins draw `:material/name:` icons, `:name:` emoji and the `:streamlit:` logo. FRONTEND holds those
patterns as its bundle (static/js/StreamlitMarkdown.*.js, mdast-util-gfm-autolink-literal) writes them; a
body is plain when none matches the text it parses to. tests/test_e2e_browser.py checks the same in Chromium.
"""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from app.markdown_text import WORD_JOINER, md_escape
from data import runs
from data.ingest import ingest

MAIN = str(Path(__file__).resolve().parents[1] / "app" / "main.py")
EVIL = "**bold** http://evil.example :material/home: <b>x</b>"
NASTY = [EVIL, "www.evil.example", "WWW.Evil.example", "mail me: a.b@evil.example", ":house: :+1: :streamlit:",
         "[a](javascript:alert(1))", ":red[r] :blue-background[b]", "$x$ `code` # h", "<img src=x onerror=alert(1)>",
         "&amp; &#42; \\*", "1. item\n- item\n> quote", "ndcg@10 (selected): 0.4", "xmpp:a@b.example mailto:x@y.example"]
FRONTEND = {   # what the frontend would make of a match in the parsed text (`:red[...]` is syntax: see made_of)
    "icon": re.compile(r":material_\w+:"),   # after the source's `:material/` became `:material_`
    "emoji or logo": re.compile(r":[\w+-][\w+-]*:"),
    "web link": re.compile(r"(https?://|www(?=\.))", re.I),
    "e-mail link": re.compile(r"[-.\w+]+@[-\w]+(\.[-\w]+)+"),
}
ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")   # CommonMark: a backslash before ASCII punctuation


def parsed(body: str) -> str:
    """The text the frontend finds in markdown `body` (escaped throughout, so no markup is left)."""
    return ESCAPE.sub(r"\1", body.replace(":material/", ":material_"))


def made_of(body: str) -> list[str]:
    """What the frontend would draw from `body` besides its text: unescaped markup, links, icons, emoji."""
    unescaped = ESCAPE.sub("", body)
    found = [kind for kind, pattern in FRONTEND.items() if pattern.search(parsed(body))]
    return found + [f"markup {ch!r}" for ch in "*_[]<>`$#&:" if ch in unescaped]


@pytest.mark.parametrize("text", NASTY)
def test_md_escape_reads_as_the_text_and_draws_nothing_from_it(text):
    body = md_escape(text)
    assert made_of(body) == [], body
    assert parsed(body).replace(WORD_JOINER, "") == text   # what the reader sees, letter for letter


def test_md_escape_joins_words_only_where_the_frontend_would_act():
    """The word joiner travels with copied text: only where a link, icon or emoji would start."""
    assert WORD_JOINER not in md_escape("ValueError: ndcg@10 at 12:30 (www) x.y")
    assert md_escape("http://a.b") == "http\\:\u2060//a\\.b"


def evil_store(home: Path, tmp_path: Path) -> None:
    """One title, one user, one review, all named with EVIL, scored and recommended."""
    (tmp_path / "items.csv").write_text(f'item_id,title,genres\na,"{EVIL}","{EVIL}"\nb,Other,Drama\n')
    (tmp_path / "interactions.csv").write_text(f'user_id,item_id,timestamp\n"{EVIL}",a,2024-01-01\nu2,a,2024-01-02\n')
    (tmp_path / "reviews.csv").write_text(f'review_id,text,item_id,timestamp,source\nr1,"{EVIL}",a,2024-01-01,"{EVIL}"\n')
    for entity in ("items", "interactions", "reviews"):
        ingest(entity, tmp_path / f"{entity}.csv", home)
    sent = runs.start("sentiment", "minilm", {}, home=home)
    runs.publish(sent.run_id, {"review_sentiment": pd.DataFrame({"review_id": ["r1"], "p_positive": [0.9], "label": [1]}),
                               "item_sentiment_daily": pd.DataFrame({"item_id": ["a"], "day": [pd.Timestamp("2024-01-01").date()],
                                                                     "reviews": [1], "mean_p_positive": [0.9]})}, home=home)
    rec = runs.start("recsys", "ease", {}, home=home)
    runs.publish(rec.run_id, {"recommendations": pd.DataFrame({"user_id": [EVIL], "item_id": ["b"], "rank": [1], "score": [1.0],
                                                               "reason": [f"because you watched {EVIL}"]})}, home=home)


def markdown_bodies(at: AppTest) -> list[str]:
    return [str(e.value) for kind in ("markdown", "caption", "title", "header", "subheader", "info", "warning", "error")
            for e in getattr(at, kind)]


def test_store_text_on_the_titles_and_recommendations_pages_is_plain(home, tmp_path):
    """A title, its genres, a user id, a review and its source: markdown only escaped (a bare URL was a live
    link, `:material/home:` an icon), the review itself in a plain-text element."""
    evil_store(home, tmp_path)
    at = AppTest.from_file(MAIN, default_timeout=60).run()
    at.switch_page("views/titles.py").run()
    assert not at.exception, at.exception
    bodies = markdown_bodies(at)
    assert at.header[0].value == md_escape(EVIL) and any(md_escape(EVIL) in b for b in at.caption.values)
    assert [t.value for t in at.text] == [EVIL]                         # the review, as st.text draws it
    assert any("P(positive) = 0.90 · " + md_escape(EVIL) == b for b in bodies)   # its source
    assert [b for b in bodies if made_of(b) and parsed(b).replace(WORD_JOINER, "").count("evil")] == []

    at.switch_page("views/recommendations.py").run()
    assert not at.exception, at.exception
    assert f"History of user {md_escape(EVIL)}" in markdown_bodies(at)
    assert [b for b in markdown_bodies(at) if "evil" in b and made_of(b)] == []


def test_an_error_naming_the_home_folder_is_plain(tmp_path, monkeypatch):
    """No store yet: the error names the home folder, which is the user's text."""
    home = tmp_path / EVIL.replace("/", "|")
    monkeypatch.setenv("MARQUEE_HOME", str(home))
    at = AppTest.from_file(MAIN, default_timeout=30).run()
    assert at.error and "evil" in at.error[0].value and made_of(at.error[0].value) == []
