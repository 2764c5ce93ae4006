"""Titles: search one, then its weekly engagement with the forecast fan, sentiment, similar titles, reviews."""
import streamlit as st

from app import charts
from app import queries as q
from app.markdown_text import md_escape
from data.demo import DEMO_JOIN_NOTE
from data.wording import plural

st.title("Titles")

text = st.text_input("Search a title", key="title_search", placeholder="e.g. Star Wars (empty: most watched)")
found = q.search_titles(text)
if found.empty:
    st.info(f"No title matches {md_escape(repr(text))}." if text.strip() else
            "No titles yet: run `marquee load-demo` or `marquee ingest items FILE`.")
    st.stop()
labels = dict(found[["item_id", "title"]].itertuples(index=False))
item_id = st.selectbox("Title", list(labels), format_func=lambda i: labels.get(i, i), key="title")
detail = q.title_detail(item_id)
info = detail["info"]
st.header(md_escape(info["title"]))
st.caption(" · ".join(md_escape(str(p)) for p in (f"id {item_id}", (info["genres"] or "").replace("|", ", "),
                                                    info["release_year"]) if p))

weekly, weeks_note = q.full_weeks(detail["weekly"])
forecast = detail["forecast"]
st.subheader(f"{'Daily' if 'daily' in detail and not forecast.empty else 'Weekly'} engagement and forecast")
if weekly.empty:
    st.info("No events for this title yet.")
elif forecast.empty:
    st.altair_chart(charts.engagement(weekly), width="stretch")
    if weeks_note:
        st.caption(weeks_note)
    st.info("No forecast for this title: run `marquee train forecast && marquee score forecast`")
elif "daily" in detail:   # a daily forecast run: its forecast continues days, not weeks
    st.altair_chart(charts.forecast_fan(detail["daily"], forecast, "day"), width="stretch")
    st.caption(f"A daily forecast run: events per day over the last {q.DAILY_HISTORY_DAYS // 7} weeks of data. "
               f"Shaded: p10-p90 of the forecast; dashed: p50 (method: {forecast['method'].iloc[0]}).")
else:
    st.altair_chart(charts.forecast_fan(weekly, forecast), width="stretch")
    st.caption(f"Shaded: p10-p90 of the forecast; dashed: p50 (method: {forecast['method'].iloc[0]}). {weeks_note}")

left, right = st.columns(2)
with left:
    st.subheader("Sentiment over time")
    sentiment = detail["sentiment"]
    if sentiment.empty:
        st.info(q.no_sentiment_reason(detail["reviews"]))
    else:
        st.altair_chart(charts.sentiment_line(sentiment), width="stretch")
with right:
    st.subheader("Similar titles")
    similar = detail["similar"]
    if similar.empty and detail["similar_served"]:
        st.info("No title is similar to this one yet: too few people watched it beside others.")
    elif similar.empty:
        st.info("No similar titles yet: run `marquee train recsys && marquee score recsys`")
    else:
        st.dataframe(similar[["rank", "title", "score"]], hide_index=True,
                     column_config={"score": st.column_config.NumberColumn(format="%.3f")})

st.subheader("Reviews")
positive, negative, counts = detail["positive"], detail["negative"], detail["reviews"]
if not counts["scored"]:
    st.info(q.no_sentiment_reason(counts))
else:
    if any(df["source"].astype(str).str.startswith("demo-").any() for df in (positive, negative)):
        st.caption(DEMO_JOIN_NOTE)
    if counts["scored"] <= len(positive) + len(negative):
        st.caption(f"Only {plural(counts['scored'], 'scored review')} for this title: all shown.")
    for label, df, none in (("Most positive", positive, "No review reads as positive (P(positive) >= 0.5)."),
                            ("Most negative", negative, "No review reads as negative (P(positive) < 0.5).")):
        st.markdown(f"**{label}**")
        if df.empty:
            st.caption(none)
        for r in df.itertuples(index=False):   # a review is shown as the text it is: st.text renders no markdown
            with st.container(border=True):
                st.text(r.text[:600] + ("…" if len(r.text) > 600 else ""))
                st.caption(f"P(positive) = {r.p_positive:.2f} · {md_escape(str(r.source))}")
