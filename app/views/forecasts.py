"""Forecasts: rising and falling titles, genre forecasts, and backtest accuracy against the baselines."""
import streamlit as st

from app import charts
from app import queries as q
from app.markdown_text import md_escape

st.title("Forecasts")

data = q.forecast_overview()
runs, genres = data["run"], data["genres"]
if runs.empty or (genres.empty and data["items"].empty):
    st.info("No forecasts yet: run `marquee train forecast && marquee score forecast`")
    st.stop()

if data["event_types"]:
    st.info(f"This forecast run counts only {md_escape(', '.join(data['event_types']))} events, and so do the rising and "
            "falling titles' last 4 weeks and the history drawn.")
rising, falling, unit = data["rising"], data["falling"], q.UNIT[data["freq"]]
st.subheader("Rising and falling titles")
run_kind = ("a daily forecast run, scaled to how busy the forecast's weekdays were in those weeks" if unit == "day"
            else "a weekly forecast run")
st.caption(f"Mean events per {unit} forecast (p50) against the mean per {unit} of the 4 weeks before the forecast "
           f"starts ({run_kind}); titles with at least {q.MOVERS_MIN_WEEKLY:g} event a week in those weeks whose "
           f"forecast differs by {q.MOVERS_MIN_CHANGE:.0%} or more, biggest change first.")
cfg = {c: st.column_config.NumberColumn(label, format="%.1f" if unit == "week" else "%.2f") for c, label in
       (("recent", f"last 4 weeks, per {unit}"), ("forecast", f"forecast, per {unit}"), ("change", "change"))}
cfg["relative_change"] = st.column_config.NumberColumn("change %", format="percent")
columns = ["title", "recent", "forecast", "change", "relative_change"]
for column, label, movers in zip(st.columns(2), ("Rising", "Falling"), (rising, falling), strict=True):
    with column:
        st.markdown(f"**{label}**")
        if movers.empty:
            st.caption(f"No title is forecast to {'rise' if label == 'Rising' else 'fall'} that much.")
        else:
            st.dataframe(movers[columns], hide_index=True, column_config=cfg)

st.subheader("Genre forecasts")
if genres.empty:
    st.info("This forecast run has no genre series.")
else:
    series = st.selectbox("Genre", genres["series_id"].tolist(), format_func=lambda s: s.split(":", 1)[1],
                          key="genre")
    history, note = q.genre_history(series.split(":", 1)[1], data["freq"], data["event_types"])
    st.altair_chart(charts.forecast_fan(history, q.series_forecast(series), unit), width="stretch")
    if unit == "day":
        note = f"A daily forecast run: events per day over the last {q.DAILY_HISTORY_DAYS // 7} weeks of data."
    st.caption(f"Shaded: p10-p90 of the forecast; dashed: p50. {note}")

st.subheader("Backtest accuracy")
run = runs.iloc[0]
backtest = data["backtest"]
st.caption(f"Run `{run['run_id']}` ({run['model']}); WAPE = sum |actual - p50| / sum actual, lower is better; "
           f"naive (last {unit}) and mean4 (mean of the last 4 {unit}s) are the baselines. "
           f"Source: {data['backtest_source']}.")
if backtest.empty:
    st.info("No backtest metrics on this run: run `marquee evaluate forecast`")
else:
    st.dataframe(backtest, hide_index=True,
                 column_config={c: st.column_config.NumberColumn(format="%.3f") for c in ("wape", "mase", "coverage80")})
    st.altair_chart(charts.ranked_bars(backtest, "method", "wape", "WAPE (lower is better)", ".3f",
                                       lower_is_better=True, highlight="chosen"), width="stretch")
