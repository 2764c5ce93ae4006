"""Altair charts the pages share: engagement with a forecast fan, sentiment lines, ranked bars."""
from __future__ import annotations

import altair as alt
import pandas as pd

BAR, HIGHLIGHT = "#4c78a8", "#f58518"   # Vega's default blue; the forecast orange


def engagement(weekly: pd.DataFrame, y: str = "events", title: str = "Events per week") -> alt.Chart:
    return alt.Chart(weekly).mark_line(point=False).encode(
        x=alt.X("week:T", title=None), y=alt.Y(f"{y}:Q", title=title),
        tooltip=[alt.Tooltip("week:T"), alt.Tooltip(f"{y}:Q", format=",")]).properties(height=260)


def forecast_fan(history: pd.DataFrame, forecast: pd.DataFrame, unit: str = "week") -> alt.LayerChart:
    """Actuals per `unit` (line; `history` has a column of that name) followed by the forecast, which must be
    per `unit` too: p50 (dashed) inside its p10-p90 band."""
    actual = alt.Chart(history).mark_line(color="#4c78a8").encode(
        x=alt.X(f"{unit}:T", title=None), y=alt.Y("events:Q", title=f"Events per {unit}"),
        tooltip=[alt.Tooltip(f"{unit}:T"), alt.Tooltip("events:Q")])
    band = alt.Chart(forecast).mark_area(opacity=0.25, color="#f58518").encode(
        x="ds:T", y="p10:Q", y2="p90:Q",
        tooltip=[alt.Tooltip("ds:T", title=unit), alt.Tooltip("p10:Q", format=".1f"),
                 alt.Tooltip("p50:Q", format=".1f"), alt.Tooltip("p90:Q", format=".1f")])
    median = alt.Chart(forecast).mark_line(color="#f58518", strokeDash=[4, 3]).encode(x="ds:T", y="p50:Q")
    return alt.layer(actual, band, median).properties(height=280)


def sentiment_line(df: pd.DataFrame, x: str = "month") -> alt.Chart:
    return alt.Chart(df).mark_line(point=True).encode(
        x=alt.X(f"{x}:T", title=None),
        y=alt.Y("p_positive:Q", title="Mean P(positive)", scale=alt.Scale(domain=[0, 1])),
        tooltip=[alt.Tooltip(f"{x}:T"), alt.Tooltip("p_positive:Q", format=".2f"), alt.Tooltip("reviews:Q")],
    ).properties(height=240)


def ranked_bars(df: pd.DataFrame, label: str, value: str, title: str, fmt: str = ".2f", *,
                lower_is_better: bool = False, highlight: str | None = None) -> alt.Chart:
    """Horizontal bars with the best on top (the largest, or the smallest if `lower_is_better`), so they
    read in the order of a table sorted best first; `highlight` names a boolean column whose bars stand
    out (e.g. the chosen method). Columns are renamed before charting: Vega-Lite reads a dot in a field
    name (`validation.ndcg@10`) as a nested field and would draw no bars."""
    names = {label: "label", value: "value", **({highlight: "highlight"} if highlight else {})}
    color = (alt.condition("datum.highlight", alt.value(HIGHLIGHT), alt.value(BAR)) if highlight
             else alt.value(BAR))
    return alt.Chart(df[list(names)].rename(columns=names)).mark_bar().encode(
        y=alt.Y("label:N", sort="x" if lower_is_better else "-x", title=None,
                axis=alt.Axis(labelOverlap=False, labelLimit=260)),
        x=alt.X("value:Q", title=title), color=color,
        tooltip=[alt.Tooltip("label:N", title=label), alt.Tooltip("value:Q", title=value, format=fmt)],
    ).properties(height=alt.Step(22))
