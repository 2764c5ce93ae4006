"""Altair charts the pages share: engagement with a forecast fan, sentiment lines, ranked bars."""
from __future__ import annotations

import altair as alt
import pandas as pd


def engagement(weekly: pd.DataFrame, y: str = "events", title: str = "Events per week") -> alt.Chart:
    return alt.Chart(weekly).mark_line(point=False).encode(
        x=alt.X("week:T", title=None), y=alt.Y(f"{y}:Q", title=title),
        tooltip=[alt.Tooltip("week:T"), alt.Tooltip(f"{y}:Q", format=",")]).properties(height=260)


def forecast_fan(history: pd.DataFrame, forecast: pd.DataFrame) -> alt.LayerChart:
    """Weekly actuals (line) followed by the forecast: p50 (dashed) inside its p10-p90 band."""
    actual = alt.Chart(history).mark_line(color="#4c78a8").encode(
        x=alt.X("week:T", title=None), y=alt.Y("events:Q", title="Events per week"),
        tooltip=[alt.Tooltip("week:T"), alt.Tooltip("events:Q")])
    band = alt.Chart(forecast).mark_area(opacity=0.25, color="#f58518").encode(
        x="ds:T", y="p10:Q", y2="p90:Q",
        tooltip=[alt.Tooltip("ds:T", title="week"), alt.Tooltip("p10:Q", format=".1f"),
                 alt.Tooltip("p50:Q", format=".1f"), alt.Tooltip("p90:Q", format=".1f")])
    median = alt.Chart(forecast).mark_line(color="#f58518", strokeDash=[4, 3]).encode(x="ds:T", y="p50:Q")
    return alt.layer(actual, band, median).properties(height=280)


def sentiment_line(df: pd.DataFrame, x: str = "month") -> alt.Chart:
    return alt.Chart(df).mark_line(point=True).encode(
        x=alt.X(f"{x}:T", title=None),
        y=alt.Y("p_positive:Q", title="Mean P(positive)", scale=alt.Scale(domain=[0, 1])),
        tooltip=[alt.Tooltip(f"{x}:T"), alt.Tooltip("p_positive:Q", format=".2f"), alt.Tooltip("reviews:Q")],
    ).properties(height=240)


def ranked_bars(df: pd.DataFrame, label: str, value: str, title: str, fmt: str = ".2f") -> alt.Chart:
    return alt.Chart(df).mark_bar().encode(
        y=alt.Y(f"{label}:N", sort="-x", title=None, axis=alt.Axis(labelOverlap=False, labelLimit=260)),
        x=alt.X(f"{value}:Q", title=title),
        tooltip=[alt.Tooltip(f"{label}:N"), alt.Tooltip(f"{value}:Q", format=fmt)],
    ).properties(height=alt.Step(22))
