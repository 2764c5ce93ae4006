"""Store text (titles, genres, user ids, review texts, messages quoting them) inside elements that render markdown.

Streamlit renders as markdown st.markdown / caption / title / header / subheader / info / warning / error / table
cells, and widget, metric and tab labels. Where a page can, it shows store text in an element that does not
(st.text, st.dataframe, selectbox options); elsewhere the text goes through `md_escape`, the one way here.

Backslash escapes stop markdown syntax (emphasis, links, headings, lists, HTML, LaTeX, `:red[...]` colour), but
Streamlit's frontend changes the text again after it is parsed: GFM links a bare `http://...`, `www.` name or
e-mail address, and its emoji and icon plugins draw `:name:`, `:material/name:` and `:streamlit:`. Each looks
for `:name:`, `:material/`, `://`, `www.` or `@name.domain` in the text itself, so a WORD JOINER (U+2060: no
width, nothing drawn) goes there: after such a `:` or `@`, and between `www` and its dot. Only there: copied from
the page, or searched for, the text carries them (`ndcg@10`, `Error: x`, `12:30` stay as they are).
"""
from __future__ import annotations

import re

WORD_JOINER = "\u2060"
_ESCAPED = re.compile(r"([\\`*_{}\[\]<>()#+\-.!|$~:&])")
# where the frontend's patterns start (Python's \w holds more than JavaScript's: a joiner too many, never too few)
_JOIN = re.compile(r"(?i)(?<=:)(?=[\w+\-]+:|//|material/)|(?<=@)(?=[\w\-]+\.[\w\-])|(?<=www)(?=\.)")


def md_escape(text: str) -> str:
    """Markdown source that Streamlit draws as exactly `text`: no emphasis, link, heading, HTML, LaTeX, entity,
    colour, icon or emoji made from it."""
    return _ESCAPED.sub(r"\\\1", _JOIN.sub(WORD_JOINER, text))
