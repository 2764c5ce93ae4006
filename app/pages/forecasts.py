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
st.caption(f"Mean weekly events forecast (p50) against the mean of the 4 weeks before the forecast starts; "
           f"titles with at least {q.MOVERS_MIN_WEEKLY:g} event a week in those weeks whose forecast differs by "
           f"{q.MOVERS_MIN_CHANGE:.0%} or more, biggest change first.")
cfg = {c: st.column_config.NumberColumn(label, format="%.1f") for c, label in
       (("recent_weekly", "last 4 weeks, per week"), ("forecast_weekly", "forecast, per week"), ("change", "change"))}
cfg["relative_change"] = st.column_config.NumberColumn("change %", format="percent")
columns = ["title", "recent_weekly", "forecast_weekly", "change", "relative_change"]
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
    history, weeks_note = q.full_weeks(q.genre_weekly(series.split(":", 1)[1]))
    st.altair_chart(charts.forecast_fan(history, q.series_forecast(series)), width="stretch")
    if weeks_note:
        st.caption(weeks_note)

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
    st.altair_chart(charts.ranked_bars(backtest, "method", "wape", "WAPE (lower is better)", ".3f",
                                       lower_is_better=True, highlight="chosen"), width="stretch")
