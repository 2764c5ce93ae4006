"""The Marquee dashboard: a router over one file per page (`streamlit run app/main.py`, or `marquee app`).

The page files live in `views/`, not `pages/`: Streamlit treats a `pages/` folder beside the main script as an
old-style multipage app, lists its files in the sidebar ("main", "overview", "sql", ...) and runs a page's file
without this script, so without the store check below.

It serves the store at `$MARQUEE_HOME`. Pages only call `app.queries` (read-only, cached; the SQL page
also `data.sql`) and the pipelines' live-prediction APIs; nothing here writes to the store.
"""
import streamlit as st

from app import queries as q
from app.markdown_text import md_escape
from data.errors import MarqueeError, StoreBusyError
from data.paths import store_path

st.set_page_config(page_title="Marquee", layout="wide")

pages = {
    "Discover": [
        st.Page("views/overview.py", title="Overview", default=True),
        st.Page("views/recommendations.py", title="Recommendations"),
        st.Page("views/titles.py", title="Titles"),
    ],
    "Insights": [
        st.Page("views/sentiment.py", title="Sentiment"),
        st.Page("views/forecasts.py", title="Forecasts"),
    ],
    "Operations": [
        st.Page("views/sql.py", title="SQL"),
        st.Page("views/runs.py", title="Runs"),
    ],
}
nav = st.navigation(pages)
try:
    q.version()
except MarqueeError as exc:
    st.error(md_escape(str(exc)))   # it names the home folder: the user's text, not markdown
    if not store_path(q.home()).exists():   # a store there (older, locked, ...) has its fix in the error, not a demo
        st.info("Load the demo with `marquee demo --no-app`, or your own data with `marquee init`, then `marquee ingest`.")
    st.stop()
try:
    nav.run()
except StoreBusyError as exc:   # a job held the write lock past the retry budget: say so, keep the app up
    st.warning(f"{md_escape(str(exc))}. A job is publishing results; reload this page in a moment.")
