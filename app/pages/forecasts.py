"""Forecasts: rising and falling titles, genre forecasts, and backtest accuracy against the baselines."""
import streamlit as st

from app import charts
from app import queries as q

st.title("Forecasts")

data = q.forecast_overview()
runs, genres = data["run"], data["genres"]
if runs.empty or (genres.empty and data["items"].empty):
    st.info("No forecasts yet: run `marquee train forecast && marquee score forecast`")
    st.stop()

rising, falling = data["rising"], data["falling"]
st.subheader("Rising and falling titles")
st.caption("Mean weekly events forecast (p50) against the mean of the 4 weeks before the forecast starts.")
cfg = {c: st.column_config.NumberColumn(label, format="%.1f") for c, label in
       (("recent_weekly", "last 4 weeks, per week"), ("forecast_weekly", "forecast, per week"), ("change", "change"))}
left, right = st.columns(2)
with left:
    st.markdown("**Rising**")
    st.dataframe(rising[["title", "recent_weekly", "forecast_weekly", "change"]], hide_index=True, column_config=cfg)
with right:
    st.markdown("**Falling**")
    st.dataframe(falling[["title", "recent_weekly", "forecast_weekly", "change"]], hide_index=True,
                 column_config=cfg)

st.subheader("Genre forecasts")
if genres.empty:
    st.info("This forecast run has no genre series.")
else:
    series = st.selectbox("Genre", genres["series_id"].tolist(), format_func=lambda s: s.split(":", 1)[1],
                          key="genre")
    history = q.genre_weekly(series.split(":", 1)[1])
    st.altair_chart(charts.forecast_fan(history, q.series_forecast(series)), width="stretch")

st.subheader("Backtest accuracy")
run = runs.iloc[0]
backtest = data["backtest"]
st.caption(f"Run `{run['run_id']}` ({run['model']}); WAPE = sum |actual - p50| / sum actual, lower is better; "
           f"naive (last week) and mean4 (mean of the last 4 weeks) are the baselines. Source: {data['backtest_source']}.")
if backtest.empty:
    st.info("No backtest metrics on this run: run `marquee evaluate forecast`")
else:
    st.dataframe(backtest, hide_index=True,
                 column_config={c: st.column_config.NumberColumn(format="%.3f") for c in ("wape", "mase", "coverage80")})
    st.altair_chart(charts.ranked_bars(backtest, "method", "wape", "WAPE (lower is better)", ".3f"), width="stretch")
