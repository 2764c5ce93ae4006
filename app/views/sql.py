"""SQL: the read-only explorer, through the same safe path as `marquee sql`; schema browser and CSV download.

The last result is kept in the session: downloading it or changing "Max rows" reruns the page, and the
result stays until the query is run again.
"""
import streamlit as st

from app import queries as q
from app.markdown_text import md_escape
from data import sql
from data.errors import MarqueeError
from data.wording import plural


def run(query: str, max_rows: int) -> dict:
    """The result to keep: frame, truncated, numbers (its number columns) and max_rows, or error."""
    if not query.strip():
        return {"error": "type a query first"}
    try:
        df, truncated, numbers = q.sql_result(query, max_rows)
    except MarqueeError as exc:
        return {"error": str(exc)}
    return {"frame": df, "truncated": truncated, "numbers": numbers, "max_rows": max_rows}


st.title("SQL explorer")
st.caption("Read-only: the same path as `marquee sql`. Writes are refused.")

with st.expander("Schema: tables and views", expanded=False):
    try:
        schema = sql.schema_overview(q.home())
    except MarqueeError as exc:
        st.error(md_escape(str(exc)))
    else:
        tables = schema[["table_name", "kind"]].drop_duplicates()
        table = st.selectbox("Table", tables["table_name"].tolist(), key="schema_table",
                             format_func=lambda t: f"{t} ({tables.set_index('table_name').at[t, 'kind']})")
        st.dataframe(schema[schema["table_name"] == table][["column_name", "data_type"]], hide_index=True)

query = st.text_area("Query", key="sql_query", height=140,
                     value="SELECT genres, count(*) AS titles FROM items GROUP BY 1 ORDER BY 2 DESC LIMIT 20")
max_rows = st.number_input("Max rows", min_value=1, max_value=100_000, value=1000, step=100, key="sql_max_rows")
if st.button("Run", key="sql_run", type="primary"):
    st.session_state["sql_last"] = run(query, int(max_rows))

last = st.session_state.get("sql_last")
if last and "error" in last:
    st.error(f"error: {md_escape(last['error'])}")   # DuckDB quotes the query back: plain text
elif last:
    df = last["frame"]
    st.caption(plural(len(df), "row") + (f" (truncated at {last['max_rows']:,})" if last["truncated"] else ""))
    st.dataframe(df, hide_index=True,   # values are DuckDB's text: numbers still align right
                 column_config={c: st.column_config.Column(alignment="right") for c in last["numbers"]})
    st.download_button("Download CSV", df.to_csv(index=False).encode(), file_name="marquee-query.csv",
                       mime="text/csv", key="sql_csv")
