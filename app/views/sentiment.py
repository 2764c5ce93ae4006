"""Sentiment: how reviews feel by genre and over time, and a box to score your own review live."""
import streamlit as st

from app import charts, live
from app import queries as q
from app.markdown_text import md_escape
from data.demo import DEMO_JOIN_NOTE

# Reviews are scored (this page's else branch) but none reached item_sentiment_daily: it needs both columns
NO_TITLE_DAYS = ("No scored review names both a title and a time: per-title sentiment needs the `item_id` and "
                 "`timestamp` columns of `marquee ingest reviews`.")

st.title("Sentiment")

data = q.sentiment_overview()
summary = data["summary"]
if not data["reviews"]:
    st.info("No reviews in the store yet: `marquee ingest reviews FILE` (review_id,text[,user_id,item_id,timestamp]), "
            "then `marquee score sentiment` (with a model from `marquee train sentiment`)")
elif not summary["reviews_scored"]:
    st.info("No scored reviews yet: run `marquee train sentiment && marquee score sentiment`")
else:
    cols = st.columns(3)
    cols[0].metric("Reviews scored", f"{int(summary['reviews_scored']):,}")
    cols[1].metric("Mean P(positive)", f"{summary['mean_p_positive']:.3f}")
    cols[2].metric("Labelled positive", f"{summary['share_positive']:.1%}")
    if data["demo_reviews"]:
        st.caption(DEMO_JOIN_NOTE)

    by_genre, monthly = data["by_genre"], data["monthly"]
    left, right = st.columns(2)
    with left:
        st.subheader("By genre")
        if monthly.empty:
            st.info(NO_TITLE_DAYS)
        elif data["small_genres"] and by_genre.empty:
            st.info(f"No genre has {q.MIN_GENRE_REVIEWS} scored reviews yet: {md_escape(', '.join(data['small_genres']))}.")
        elif by_genre.empty:
            st.info("None of the reviewed titles has a genre: `marquee ingest items` reads them from a `genres` column.")
        else:
            st.altair_chart(charts.ranked_bars(by_genre, "label", "p_positive", "Mean P(positive)"), width="stretch")
            st.caption(f"Reviews per genre in brackets; genres with fewer than {q.MIN_GENRE_REVIEWS} reviews are left out"
                       + (f": {md_escape(', '.join(data['small_genres']))}." if data["small_genres"] else "."))
    with right:
        st.subheader("Over time")
        if monthly.empty:
            st.info(NO_TITLE_DAYS)
        else:
            st.altair_chart(charts.sentiment_line(monthly), width="stretch")

st.divider()
st.subheader("Try your own review")
text = st.text_area("Review text", key="review_text", placeholder="A gripping story with wonderful acting...")
if st.button("Score it", key="score_review"):
    probs, why_not = live.predict_texts([text]) if text.strip() else (None, "Type a review above, then score it.")
    if why_not:
        st.info(why_not)
    else:
        cols = st.columns(2)
        cols[0].metric("P(positive)", f"{probs[0]:.3f}")
        cols[1].metric("Reads as", "positive" if probs[0] >= 0.5 else "negative")
