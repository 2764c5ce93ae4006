"""Runs: the registry of trained models, their parameters and metrics, and a comparison of two runs."""
import json

import streamlit as st

from app import queries as q
from app.markdown_text import md_escape

st.title("Runs")

runs = q.runs()
if runs.empty:
    st.info("No runs yet: run `marquee demo --no-app`, or `marquee train recsys` (sentiment, forecast).")
    st.stop()

pipelines = ["all", *sorted(runs["pipeline"].unique())]
pipeline = st.radio("Pipeline", pipelines, horizontal=True, key="runs_pipeline")
shown = runs if pipeline == "all" else runs[runs["pipeline"] == pipeline]
marked = shown["status"] + shown["pruned"].map({True: " (pruned)", False: ""})   # as `marquee runs` marks it
st.dataframe(shown.assign(status=marked)[["run_id", "pipeline", "model", "status", "started_at", "age", "error"]],
             hide_index=True)

st.subheader("One run")
ids = shown["run_id"].tolist()
run_id = st.selectbox("Run", ids, key="run")
run = runs[runs["run_id"] == run_id].iloc[0].to_dict()
left, right = st.columns([3, 2])
with left:
    st.markdown("**Metrics**")
    st.dataframe(q.metrics_table(run["metrics"]), hide_index=True)
    with st.expander("Metrics as JSON"):
        st.json(json.loads(run["metrics"] or "{}"), expanded=False)
with right:
    st.markdown("**Parameters**")
    st.json(json.loads(run["params"] or "{}"), expanded=False)
    st.markdown("**Outputs**")
    outputs = q.run_outputs(run_id)
    if outputs.empty and run["status"] == "failed":
        st.caption("None: the run failed.")
    elif outputs.empty and run["pruned"]:   # `marquee score` of it would fail: its model went with its outputs
        st.caption("Removed by `marquee prune`, with the run's model files; its parameters and metrics stay.")
    elif outputs.empty:
        st.caption(f"No outputs published yet (`marquee score {run['pipeline']}`).")
    else:
        st.dataframe(outputs, hide_index=True)
    if run["error"]:
        st.error(md_escape(run["error"]))   # an error message quotes data: plain text, not markdown

st.subheader("Compare two runs")
if len(ids) < 2:
    st.caption("Train another run to compare.")
else:
    a_col, b_col = st.columns(2)
    default_a, default_b = q.compare_pair(shown)
    a = a_col.selectbox("Run A", ids, index=ids.index(default_a), key="run_a")
    b = b_col.selectbox("Run B", ids, index=ids.index(default_b), key="run_b")
    st.dataframe(q.compare_runs(runs[runs["run_id"] == a].iloc[0].to_dict(),
                                runs[runs["run_id"] == b].iloc[0].to_dict()), hide_index=True)
