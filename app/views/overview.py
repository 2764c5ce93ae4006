"""Overview: how big the store is, engagement over time, and the run serving each pipeline's outputs."""
import streamlit as st

from app import charts
from app import queries as q
from data.demo import DEMO_JOIN_NOTE

st.title("Marquee")
c, weekly, latest = q.overview()
cols = st.columns(4)
for col, (label, key) in zip(cols, [("Users", "users"), ("Titles", "titles"), ("Events", "events"),
                                    ("Reviews", "reviews")], strict=True):
    col.metric(label, f"{c[key]:,}")
if c["demo_reviews"]:
    st.caption(DEMO_JOIN_NOTE)

st.subheader("Engagement over time")
if weekly.empty:
    st.info("No engagement yet: run `marquee load-demo` or `marquee ingest interactions FILE`.")
else:
    weekly, weeks_note = q.full_weeks(weekly)
    st.altair_chart(charts.engagement(weekly), width="stretch")
    if weeks_note:
        st.caption(weeks_note)

st.subheader("Latest runs")
st.caption("Per pipeline, the run whose outputs the pages show.")
hints = {"recsys": "marquee train recsys && marquee score recsys",
         "sentiment": "marquee train sentiment && marquee score sentiment",
         "forecast": "marquee train forecast && marquee score forecast"}
cols = st.columns(3)
for col, pipeline in zip(cols, hints, strict=True):
    with col:
        st.markdown(f"**{pipeline}**")
        row = latest[latest["pipeline"] == pipeline]
        if failed := q.newest_failed(pipeline):
            st.warning(f"The newest {pipeline} run `{failed['run_id']}` failed: see Runs for why.")
        if row.empty:
            st.info(f"No {pipeline} run yet: run `{hints[pipeline]}`")
            continue
        r = row.iloc[0]
        st.caption(f"{r['model']} · `{r['run_id']}` · {r['age']} ago")
        for name, value in r["metrics"].items():
            st.metric(name, f"{value:.4g}")
        if r["unscored"]:
            st.info(r["unscored"])
