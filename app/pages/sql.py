"""SQL: the read-only explorer, through the same safe path as `marquee sql`; schema browser and CSV download."""
import streamlit as st

from app import queries as q
from data import sql
from data.errors import MarqueeError

st.title("SQL explorer")
st.caption("Read-only: the same path as `marquee sql`. Writes are refused.")

with st.expander("Schema: tables and views", expanded=False):
    try:
        schema = sql.schema_overview(q.home())
    except MarqueeError as exc:
        st.error(str(exc))
    else:
        tables = schema[["table_name", "kind"]].drop_duplicates()
        table = st.selectbox("Table", tables["table_name"].tolist(), key="schema_table",
                             format_func=lambda t: f"{t} ({tables.set_index('table_name').at[t, 'kind']})")
        st.dataframe(schema[schema["table_name"] == table][["column_name", "data_type"]], hide_index=True)

query = st.text_area("Query", key="sql_query", height=140,
                     value="SELECT genres, count(*) AS titles FROM items GROUP BY 1 ORDER BY 2 DESC LIMIT 20")
max_rows = st.number_input("Max rows", min_value=1, max_value=100_000, value=1000, step=100, key="sql_max_rows")
if st.button("Run", key="sql_run", type="primary") and query.strip():
    try:
        result = sql.run_readonly(query, q.home(), int(max_rows))
    except MarqueeError as exc:
        st.error(f"error: {exc}")
    else:
        df, truncated = result, bool(result.attrs.get("truncated", False))
        st.caption(f"{len(df):,} rows" + (f" (truncated at {int(max_rows):,})" if truncated else ""))
        st.dataframe(df, hide_index=True)
        st.download_button("Download CSV", df.to_csv(index=False).encode(), file_name="marquee-query.csv",
                           mime="text/csv", key="sql_csv")
