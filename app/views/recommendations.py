"""Recommendations: one user's history and top-N with reasons; a live cold-start panel; models side by side."""
import streamlit as st

from app import charts, live
from app import queries as q
from app.markdown_text import md_escape
from data.wording import plural

SCORE_HELP = "Score: the model's relevance score for this user; only the order matters, not its size."


def user_panel(user_id: str, serving: dict | None) -> None:
    """One user's recent history and top picks, side by side."""
    history, n_events, recs = q.user_detail(user_id)
    left, right = st.columns([2, 3])
    with left:
        st.subheader(f"History of user {md_escape(user_id)}")
        st.caption(f"{plural(n_events, 'event')}; the {len(history)} most recent:" if n_events > len(history)
                   else f"{plural(n_events, 'event')}:")
        st.dataframe(history[["ts", "title", "event_type", "rating"]], hide_index=True)
    with right:
        st.subheader("Top picks")
        if recs.empty and q.recommendations_published():
            st.info(f"No picks for user {md_escape(user_id)} in the latest run: they arrived after it was scored, or have "
                    "seen every title it knows. `marquee score recsys` folds in events ingested since training.")
        elif recs.empty:
            st.info("No recommendations yet: run `marquee train recsys && marquee score recsys`")
        else:
            # st.table renders its cells as markdown: titles and reasons are shown escaped, kept raw as data
            st.table(recs[["rank", "title", "score", "reason"]].set_index("rank").style.format(
                {"score": "{:.3f}", "title": md_escape, "reason": md_escape}))
            st.caption(f"From run `{serving['run_id']}` ({serving['model']}). {SCORE_HELP}")


st.title("Recommendations")

users = q.users()
if not users:
    st.info("No users yet: run `marquee load-demo` or `marquee ingest users FILE`.")
    st.stop()

serving = q.serving_run("recsys")
user_id = (st.selectbox("User", users, key="user", accept_new_options=True, filter_mode="prefix",
                        help=f"Type any user id and press Enter; the list suggests the first {len(users):,}.")
           or "").strip()
if not user_id:
    st.caption("Type or pick a user id.")
elif q.user_known(user_id):
    user_panel(user_id, serving)
else:
    st.warning(f"Unknown user id: {md_escape(user_id)} is not in the store (ids match exactly).")
if serving and (note := q.unscored_note(serving)):
    st.info(note)

st.divider()
st.subheader("New here? Pick a few titles")
names = dict(q.titles()[["item_id", "title"]].itertuples(index=False))
picked = st.multiselect("Titles you liked", list(names), format_func=lambda i: names.get(i, i), key="cold_start",
                        max_selections=20)
if picked:
    cold, note = live.recommend_for_history(picked, k=10)
    if note:
        st.info(note)
    if cold is not None:
        st.dataframe(cold, hide_index=True,
                     column_config={"score": st.column_config.NumberColumn(format="%.3f", help=SCORE_HELP)})
else:
    st.caption("Recommendations are folded in live from the titles you pick, with the model that serves the "
               "top picks above.")

st.divider()
st.subheader("Models side by side")
models = q.pipeline_runs("recsys")
if models.empty:
    st.info("No recsys models yet: run `marquee train recsys` (and `marquee evaluate recsys` for metrics).")
else:
    numeric = q.metric_columns(models)
    st.dataframe(models, hide_index=True,
                 column_config={c: st.column_config.NumberColumn(format="%.4f") for c in numeric})
    with st.expander("Parameters"):
        st.dataframe(q.pipeline_params("recsys"), hide_index=True)
    if numeric:
        metric = st.selectbox("Compare on", numeric, key="model_metric")
        st.altair_chart(charts.ranked_bars(models.dropna(subset=[metric]), "run_id", metric, metric, ".4f"),
                        width="stretch")
