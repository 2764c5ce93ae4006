"""`marquee sql` / data.sql: one read-only query, no file or extension access, a row cap;
`marquee export`: catalog-checked names, CSV/Parquet round trip."""
from __future__ import annotations

import csv
import io
import json
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import duckdb
import psutil
import pytest

from data import store
from data.errors import MarqueeError
from data.export import export
from data.ingest import ingest
from data.sql import QueryRefused, check_query, fetch_readonly, schema_overview
from tests.ingest_helpers import MARQUEE, REPO, marquee, snapshot, write


@pytest.fixture(scope="module")
def sql_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home, files = tmp_path_factory.mktemp("sql") / "home", tmp_path_factory.mktemp("files")
    store.init(home)
    ingest("items", write(files / "items.csv", "item_id,title\n" + "".join(f"{i},T{i}\n" for i in range(50))), home)
    ingest("interactions", write(files / "e.csv", "user_id,item_id,timestamp,rating\n"
                                 + "".join(f"u{i % 7},{i % 50},{1000 + i},{i % 5 + 1}\n" for i in range(300))), home)
    return home


@pytest.fixture
def sql_home(sql_template: Path, tmp_path: Path) -> Path:
    home = tmp_path / "home"
    shutil.copytree(sql_template, home)
    return home


REFUSED = [
    "COPY items TO '/tmp/marquee-leak.csv'",
    "ATTACH '/tmp/other.duckdb' AS other",
    "DETACH memory",
    "INSTALL httpfs",
    "LOAD httpfs",
    "DROP TABLE items",
    "DELETE FROM items",
    "UPDATE items SET title = 'x'",
    "INSERT INTO items VALUES ('x', 'y', NULL, NULL, NULL, NULL)",
    "CREATE TABLE t AS SELECT 1",
    "CREATE TEMP TABLE t AS SELECT 1",
    "PRAGMA version",
    "SET enable_external_access = true",
    "RESET lock_configuration",
    "CALL pragma_version()",
    "EXPORT DATABASE '/tmp/marquee-export'",
    "IMPORT DATABASE '/tmp/marquee-export'",
    "CHECKPOINT",
    "BEGIN TRANSACTION",
    "USE memory",
    "SELECT 1; DROP TABLE items",
    "SELECT 1; SELECT 2",
    "SELECT 1; DROP TABLE items; -- only comments after this",
    "SELECT 1; -- a comment\nSELECT 2;",
    "EXPLAIN ANALYZE CREATE TABLE t AS SELECT 1",
    "EXPLAIN COPY items TO '/tmp/marquee-leak.csv'",
    "/* sneaky */ EXPLAIN ANALYZE DROP TABLE items",
    "EXPLAIN /* c */ COPY items TO '/tmp/marquee-leak.csv'",
    "explain\nanalyze\nCOPY items TO '/tmp/marquee-leak.csv'",
    "EXPLAIN\u00a0ANALYZE CREATE TEMP TABLE t AS SELECT 1",
    "-- c\nEXPLAIN ANALYZE CREATE TEMP TABLE t AS SELECT 1",
    "WITH x AS (SELECT 1) INSERT INTO items SELECT * FROM items",
    # DuckDB parses a data-changing statement in a CTE as a SELECT
    "WITH a AS (DELETE FROM items RETURNING *) SELECT * FROM a",
    "WITH a AS MATERIALIZED ( /* c */ delete FROM items RETURNING *) SELECT * FROM a",
    "WITH a AS (UPDATE items SET title = 'x' RETURNING *) SELECT count(*) FROM a",
    "WITH a AS (INSERT INTO items SELECT * FROM items RETURNING *) SELECT 1",
    "WITH a AS (COPY items TO '/tmp/marquee-leak.csv') SELECT 1",
    "WITH a AS ( -- a comment\n DELETE FROM items RETURNING *) SELECT 1",
    "CREATE SECRET s (TYPE s3, KEY_ID 'k', SECRET 's')",
    "CREATE TEMP MACRO m(x) AS x",
    "CREATE TEMP SEQUENCE s",
    "SET VARIABLE x = 1",
    # a PIVOT without IN (...) is several statements to DuckDB: only a query may hold one
    "INSERT INTO items PIVOT items ON title USING count(*)",
    "CREATE TEMP TABLE t AS PIVOT items ON title USING count(*)",
    "COPY (PIVOT items ON title USING count(*)) TO '/tmp/marquee-leak.csv'",
    "WITH p AS (PIVOT items ON title USING count(*)) INSERT INTO items SELECT * FROM p",
    "SET VARIABLE x = (SELECT count(*) FROM (PIVOT items ON title USING count(*)))",
    "UPDATE items SET title = (SELECT count(*) FROM (PIVOT items ON title USING count(*)))",
    "EXPLAIN ANALYZE PIVOT items ON title USING count(*)",
    "PIVOT items ON title USING count(*); DROP TABLE items",
]


@pytest.mark.parametrize("query", REFUSED)
def test_non_queries_are_refused(sql_home, query):
    before = snapshot(sql_home)
    with pytest.raises(QueryRefused):
        fetch_readonly(query, sql_home)
    assert snapshot(sql_home) == before


FILE_ACCESS = [
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_csv_auto('/etc/passwd')",
    "SELECT * FROM '/etc/passwd'",
    "SELECT * FROM read_text('/etc/passwd')",
    "SELECT * FROM read_blob('/etc/hostname')",
    "SELECT * FROM read_json('/etc/passwd')",
    "SELECT * FROM read_parquet('/tmp/*.parquet')",
    "SELECT * FROM glob('/etc/*')",
    "SELECT getenv('HOME')",
    "SELECT * FROM query('COPY items TO ''/tmp/marquee-leak.csv''')",
    "SELECT * FROM query('SET enable_external_access = true')",
    "SELECT * FROM duckdb_secrets()",
    "SELECT * FROM read_text('file:///etc/passwd')",
    "SELECT * FROM sniff_csv('/etc/passwd')",
    "SELECT * FROM parquet_metadata('/tmp/*.parquet')",
    "SELECT * FROM query('CREATE TEMP TABLE t AS SELECT 1')",
    "SELECT * FROM json_execute_serialized_sql(json_serialize_sql('SELECT * FROM read_text(''/etc/passwd'')'))",
    "SELECT * FROM destroy_external_resource('read_text', '/etc/passwd')",   # runs a table function by name
    "PIVOT (SELECT * FROM read_csv('/etc/passwd')) ON column0 USING count(*)",
    "SELECT * FROM (PIVOT read_text('/etc/passwd') ON filename USING max(content))",
    "PIVOT glob('/etc/*') ON file USING count(*)",
    "WITH p AS (DELETE FROM items RETURNING *) PIVOT p ON title USING count(*)",
]


@pytest.mark.parametrize("query", FILE_ACCESS)
def test_queries_cannot_touch_files_or_loosen_settings(sql_home, query):
    try:
        rows = fetch_readonly(query, sql_home).rows
    except MarqueeError:
        return
    assert not rows, f"{query} returned {rows}"   # duckdb_secrets(): allowed but there are none
    assert not Path("/tmp/marquee-leak.csv").exists()


def test_the_stores_own_files_are_not_readable(sql_home):
    """DuckDB allows a locked-down connection its own database files; the analyst surface must not."""
    path = store.store_path(sql_home)
    for query in (f"SELECT size FROM read_blob('{path}')", f"SELECT * FROM read_text('{path}.wal')",
                  f"SELECT * FROM glob('{sql_home}/*')", f"SELECT count(*) FROM '{path}'",
                  f"SELECT * FROM read_duckdb('{path}', table_name = 'items')",
                  f"PIVOT read_blob('{path}') ON filename USING max(size)"):
        with pytest.raises(MarqueeError, match="disabled|not allowed|Permission"):
            fetch_readonly(query, sql_home)


def test_a_query_running_too_long_is_stopped(sql_home):
    endless = "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) SELECT count(*) FROM r"
    with pytest.raises(MarqueeError, match="query stopped after 0.5 s"):
        fetch_readonly(endless, sql_home, timeout=0.5)
    assert fetch_readonly("SELECT 1 AS one", sql_home)[1] == [("1",)]   # the store is fine


def test_a_query_deaf_to_interrupts_is_stopped_at_the_timeout(sql_home):
    """DuckDB hears an interrupt only between batches: one batch of this levenshtein() takes ~20 minutes on
    2 cores (64 rows of it took 28 s to notice a 1 s timeout), so it is killed, not asked, and the store opens
    for a writer right after."""
    deaf = ("SELECT max(levenshtein(repeat('a', 20000) || range::VARCHAR, repeat('b', 20000))) "
            "FROM range(2048)")
    start = time.monotonic()
    with pytest.raises(MarqueeError, match="query stopped after 1 s"):
        fetch_readonly(deaf, sql_home, timeout=1)
    assert time.monotonic() - start < 15
    with store.write(sql_home, timeout=5) as con:   # no read connection is left holding the store
        con.execute("SELECT 1")


def test_a_query_whose_command_was_killed_does_not_hold_the_store(sql_home):
    """`kill -9` of `marquee sql` (a scheduler's hard timeout) cannot take the query's process along: that one
    ends by itself, so writers get the store at once instead of after the query's ~20 minutes."""
    deaf = ("SELECT max(levenshtein(repeat('a', 20000) || range::VARCHAR, repeat('b', 20000))) "
            "FROM range(2048)")
    proc = subprocess.Popen([*MARQUEE, "sql", deaf, "--home", str(sql_home)], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not (workers := psutil.Process(proc.pid).children()) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1)   # the worker's start-up, then inside the query
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    try:
        with store.write(sql_home, timeout=10) as con:
            con.execute("SELECT 1")
    finally:
        for worker in workers:   # only where it ran on (the bug): never left behind by the test
            if worker.is_running():
                worker.kill()


def test_the_query_process_ignores_a_data_package_in_the_working_directory(sql_home, tmp_path, monkeypatch):
    """An analyst's project may have a `data/` package of its own: the query process must run Marquee's."""
    planted = tmp_path / "data"
    planted.mkdir()
    (planted / "__init__.py").write_text("")
    (planted / "sql_worker.py").write_text(f"open({str(tmp_path / 'ran')!r}, 'w').close()\n")
    monkeypatch.chdir(tmp_path)
    assert fetch_readonly("SELECT 2 AS two", sql_home).rows == [("2",)]
    assert not (tmp_path / "ran").exists()


def test_a_query_needing_too_much_memory_fails_cleanly(sql_home, monkeypatch):
    import data.sql

    limit = data.sql.memory_limit_mib()
    assert 256 <= limit <= 4096
    number, unit = fetch_readonly("SELECT current_setting('memory_limit') AS m", sql_home)[1][0][0].split()
    assert float(number) * {"MiB": 1, "GiB": 1024}[unit] == pytest.approx(limit, rel=0.01)   # not DuckDB's 80% of RAM
    monkeypatch.setattr(data.sql, "memory_limit_mib", lambda: 64)
    with pytest.raises(MarqueeError, match="needs more than the 64 MiB of memory"):
        fetch_readonly("SELECT list(range) AS l FROM range(30000000)", sql_home)   # ~0.5 GB without the limit
    assert fetch_readonly("SELECT count(*) AS n FROM interactions", sql_home)[1] == [("300",)]


@pytest.mark.parametrize("query", ["SELECT count(*) FROM (SELECT range % 2000000, count(*) FROM range(4000000) GROUP BY 1)",
                                   "SELECT max(r) FROM (SELECT range AS r FROM range(5000000) ORDER BY random() LIMIT 4000000)"])
def test_a_query_that_would_spill_to_disk_says_it_needs_more_memory(sql_home, monkeypatch, query):
    """A big aggregate or sort would spill to a temporary file, but the analyst surface has no file system."""
    import data.sql

    monkeypatch.setattr(data.sql, "memory_limit_mib", lambda: 64)
    with pytest.raises(MarqueeError) as failed:
        fetch_readonly(query, sql_home)
    assert re.fullmatch(r"query needs more than the 64 MiB of memory an analyst query may use \(40% of this machine's "
                        r"memory, 256 MiB to 4 GiB\) and cannot spill to disk: narrow it \(filter, aggregate or LIMIT\)",
                        str(failed.value))
    assert fetch_readonly(query.replace("000000", "0000"), sql_home).rows   # the same query, narrowed, runs


def test_table_output_cuts_long_values_and_csv_keeps_them(sql_home):
    query = "SELECT repeat('x', 5000) AS s, 1 AS n"
    table = marquee("sql", query, home=sql_home)
    assert table.returncode == 0 and max(map(len, table.stdout.splitlines())) < 200 and "..." in table.stdout
    csv_out = marquee("sql", query, "--format", "csv", home=sql_home)
    assert csv_out.stdout.splitlines()[1] == "x" * 5000 + ",1"


def test_table_output_shows_null_once_and_numbers_exactly(sql_home):
    query = ("SELECT 'nan'::DOUBLE AS f, NULL::DOUBLE AS d, NULL::INTEGER AS i, NULL::VARCHAR AS v, NULL::DATE AS dt, "
             "sum(rating)::HUGEINT AS s, 12345678901234567890::HUGEINT AS h, count(*) AS n FROM interactions")
    proc = marquee("sql", query, home=sql_home)
    assert proc.returncode == 0, proc.stderr
    header, row = proc.stdout.splitlines()
    assert header.split() == ["f", "d", "i", "v", "dt", "s", "h", "n"]
    assert row.split() == ["nan", "NULL", "NULL", "NULL", "NULL", "900", "12345678901234567890", "300"]
    plan = marquee("sql", "EXPLAIN SELECT count(*) FROM interactions", home=sql_home)
    assert plan.returncode == 0 and len(plan.stdout.splitlines()) > 3 and "\\n" not in plan.stdout


def test_table_output_aligns_wide_and_accented_titles(sql_home):
    """A CJK character takes two terminal columns, a combining accent none: the next column still lines up."""
    query = "SELECT t, n FROM (VALUES ('東京物語', 1), ('Ame\u0301lie', 2), ('Plain', 3)) v(t, n) ORDER BY n"
    proc = marquee("sql", query, home=sql_home)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["t         n", "東京物語  1", "Ame\u0301lie    2", "Plain     3"]


def test_nested_values_print_as_duckdb_writes_them(sql_home):
    """A LIST or STRUCT holding DECIMALs, dates or NULLs prints as DuckDB writes it, not as Python's repr."""
    query = ("SELECT [1.25::DECIMAL(5, 2), 2.5::DECIMAL(5, 2), NULL] AS l, "
             "{'a': DATE '2024-01-02', 'b': [TIMESTAMP '2024-01-02 03:04:05']} AS s")
    for fmt in ("table", "csv"):
        out = marquee("sql", query, "--format", fmt, home=sql_home).stdout
        assert "[1.25, 2.50, NULL]" in out and "{'a': 2024-01-02, 'b': ['2024-01-02 03:04:05']}" in out, out
        assert "Decimal" not in out and "datetime" not in out


# Nested values whose Python form can not be written back as DuckDB writes them: strings that need
# quotes ('a,b' would read as two elements, 'NULL' as a NULL), booleans, MAPs (a dict, like a STRUCT),
# unnamed STRUCTs (a tuple), INTERVAL months (30 days in Python), DECIMAL zeros (0E-10), FLOATs.
NESTED_CASES = ["['a,b', 'NULL', NULL, '', ' x', 'it''s']", "[true, false]", "MAP {'k': 1, 'j': NULL}",
                "ROW(1, 'x')", "[INTERVAL 1 MONTH]", "[0::DECIMAL(18, 10)]", "[0.1::FLOAT]",
                "{'a': [MAP {1: [true]}]}", "[1, 2]::INTEGER[2]"]


@pytest.mark.parametrize("fmt", ["table", "csv"])
def test_nested_values_are_duckdbs_own_text(sql_home, fmt):
    """Table and CSV show each LIST, STRUCT, MAP or ARRAY value exactly as DuckDB casts it to text."""
    query = "SELECT " + ", ".join(f"{case} AS c{i}" for i, case in enumerate(NESTED_CASES))
    want = duckdb.connect().execute("SELECT " + ", ".join(f"CAST({c} AS VARCHAR)" for c in NESTED_CASES)).fetchall()[0]
    proc = marquee("sql", query, "--format", fmt, home=sql_home)
    assert proc.returncode == 0, proc.stderr
    if fmt == "csv":
        assert tuple(list(csv.reader(io.StringIO(proc.stdout)))[1]) == want
    else:
        assert all(text in proc.stdout.splitlines()[1] for text in want), proc.stdout
    assert fetch_readonly(query, sql_home, cast="text").rows == [want]


# Values whose Python form prints unlike DuckDB's text (0E-10, .123000, 9999-12-31 for infinity, 30 days for a
# month, True, 0.10000000149011612) and the rest of DuckDB's scalar types; the last is NULL.
SCALAR_CASES = [
    "0::DECIMAL(18, 10)", "-1.5::DECIMAL(4, 1)", "0.0000001::DECIMAL(38, 37)",
    "99999999999999999999999999999999999.999::DECIMAL(38, 3)",
    "TIMESTAMP '2024-01-01 00:00:00.123'", "'2024-01-01 00:00:01'::TIMESTAMP_S",
    "'2024-01-01 00:00:00.123'::TIMESTAMP_MS", "'2024-01-01 00:00:00.123456789'::TIMESTAMP_NS",
    "TIMESTAMPTZ '2024-01-01 00:00:00.5+00'", "TIME '01:02:03.5'", "TIMETZ '01:02:03.25+05:30'",
    "'infinity'::DATE", "'-infinity'::TIMESTAMP", "'infinity'::TIMESTAMPTZ",
    "INTERVAL 1 MONTH", "INTERVAL 1 DAY + INTERVAL 90 MINUTE", "INTERVAL '-1 year 2 days 00:00:00.5'",
    "'\\xFF\\x00a\\x5C'::BLOB", "UUID '00000000-0000-0000-0000-00000000002a'",
    "170141183460469231731687303715884105727::HUGEINT", "340282366920938463463374607431768211455::UHUGEINT",
    "12345678901234567890123::VARINT", "'0101'::BIT", "CAST('ok' AS ENUM('sad', 'ok'))",
    "0.1::FLOAT", "1e20::FLOAT", "1e20::DOUBLE", "'nan'::DOUBLE", "'-inf'::FLOAT", "-0.0::DOUBLE",
    "true", "NULL::INTERVAL",
]
NUMBER_TYPES = ("DECIMAL", "HUGEINT", "UHUGEINT", "BIGNUM", "VARINT", "FLOAT", "DOUBLE")


def duckdb_text(home: Path, cases: list[str]) -> tuple[list[str | None], list[bool]]:
    """Each case as DuckDB casts it to text on the store's own connection (its TimeZone), and whether it is a number."""
    with store.read(home) as con:
        texts = con.execute("SELECT " + ", ".join(f"CAST({c} AS VARCHAR)" for c in cases)).fetchall()[0]
        types = con.execute("SELECT " + ", ".join(f"typeof({c})" for c in cases)).fetchall()[0]
    return list(texts), [t.split("(")[0] in NUMBER_TYPES for t in types]


@pytest.mark.parametrize("fmt", ["table", "csv"])
def test_values_print_as_duckdbs_own_text(sql_home, fmt):
    """Table and CSV show every value as DuckDB casts it to VARCHAR (NULL: `NULL` / an empty field), and the
    table aligns number columns right. Wide column names put each value in its header's span."""
    names = [f"c{i}_".ljust(60, "x") for i in range(len(SCALAR_CASES))]
    query = "SELECT " + ", ".join(f"{case} AS {name}" for case, name in zip(SCALAR_CASES, names, strict=True))
    want, numeric = duckdb_text(sql_home, SCALAR_CASES)
    proc = marquee("sql", query, "--format", fmt, home=sql_home)
    assert proc.returncode == 0, proc.stderr
    if fmt == "csv":
        assert list(csv.reader(io.StringIO(proc.stdout)))[1] == ["" if w is None else w for w in want]
        return
    header, row = proc.stdout.splitlines()
    spans = [m.span() for m in re.finditer(r"\S+", header)]
    cells = [row.ljust(len(header))[a:b] for a, b in spans]
    assert [c.strip() for c in cells] == ["NULL" if w is None else w for w in want]
    assert [c.strip() == (c.lstrip() if right else c.rstrip()) for c, right in zip(cells, numeric, strict=True)] \
        == [True] * len(cells)


def test_json_keeps_structure_with_duckdbs_values(sql_home):
    """JSON: numbers stay numbers (BIGNUM too), NaN null; a value JSON has no type for is DuckDB's text (a month
    stays a month, infinity infinity, nanoseconds kept), inside LISTs and STRUCTs too."""
    cases = ["INTERVAL 1 MONTH", "'infinity'::DATE", "'-infinity'::TIMESTAMP", "'2024-01-01 00:00:00.123456789'::TIMESTAMP_NS",
             "TIMESTAMP '2024-01-01 00:00:00.123'", "[INTERVAL 1 MONTH]", "{'d': 'infinity'::DATE}"]
    want = duckdb_text(sql_home, ["INTERVAL 1 MONTH", "'infinity'::DATE", "'-infinity'::TIMESTAMP",
                                  "'2024-01-01 00:00:00.123456789'::TIMESTAMP_NS",
                                  "TIMESTAMP '2024-01-01 00:00:00.123'"])[0]
    query = ("SELECT " + ", ".join(f"{c} AS c{i}" for i, c in enumerate(cases)) + ", 12345678901234567890123::VARINT AS "
             "big, 0::DECIMAL(18, 10) AS d, 'nan'::DOUBLE AS f, true AS b, 170141183460469231731687303715884105727::HUGEINT AS h")
    proc = marquee("sql", query, "--format", "json", home=sql_home)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == [{"c0": want[0], "c1": want[1], "c2": want[2], "c3": want[3], "c4": want[4],
                                        "c5": [want[0]], "c6": {"d": want[1]}, "big": 12345678901234567890123,
                                        "d": 0, "f": None, "b": True, "h": 170141183460469231731687303715884105727}]


def not_json(constant: str) -> None:
    raise ValueError(f"{constant} is not JSON")


def test_json_keeps_decimals_and_big_integers_digit_for_digit(sql_home):
    """Numbers are DuckDB's own digits, nested ones too (Python would parse a DECIMAL into a float; to_json writes a
    DECIMAL of up to 15 digits through a double), in strict JSON (DuckDB writes a DECIMAL(38, 38) as -.5)."""
    big = "12345678901234567890123456789.12"
    query = (f"SELECT CAST(0.1 AS DECIMAL(18, 10)) AS d, CAST('{big}' AS DECIMAL(38, 2)) AS big, 1.20::DECIMAL(4, 2) "
             "AS small, -0.5::DECIMAL(38, 38) AS frac, [1.20::DECIMAL(4, 2), NULL] AS l, {'a': 0.1::DECIMAL(18, 10), "
             f"'m': MAP {{'k': [CAST('{big}' AS DECIMAL(38, 2))]}}}} AS s, 18446744073709551615::UBIGINT AS u, "
             "340282366920938463463374607431768211455::UHUGEINT AS uh, -170141183460469231731687303715884105727::HUGEINT "
             "AS h, ['nan'::DOUBLE, '-inf'::DOUBLE] AS f, 'NaN .5 \"' AS t")
    proc = marquee("sql", query, "--format", "json", home=sql_home)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout, parse_float=str, parse_int=str, parse_constant=not_json) == [{
        "d": "0.1000000000", "big": big, "small": "1.20", "frac": "-0.5" + "0" * 37, "l": ["1.20", None],
        "s": {"a": "0.1000000000", "m": {"k": [big]}}, "u": "18446744073709551615",
        "uh": "340282366920938463463374607431768211455", "h": "-170141183460469231731687303715884105727",
        "f": [None, None], "t": 'NaN .5 "'}]


def test_json_keeps_nested_values_structured(sql_home):
    proc = marquee("sql", "SELECT MAP {'k': [1, NULL]} AS m, ['a,b'] AS l", "--format", "json", home=sql_home)
    assert json.loads(proc.stdout) == [{"m": {"k": [1, None]}, "l": ["a,b"]}]


def test_json_and_csv_keep_duckdb_values_exact(sql_home):
    query = ("SELECT UUID '00000000-0000-0000-0000-00000000002a' AS u, INTERVAL 1 DAY + INTERVAL 90 MINUTE AS i, "
             "170141183460469231731687303715884105727::HUGEINT AS h, '\\xFF\\x00a'::BLOB AS b, "
             "'nan'::DOUBLE AS f, 1.25::DECIMAL(5, 2) AS d, [1, 2] AS l, TIMESTAMP '2024-01-02 03:04:05' AS t")
    proc = marquee("sql", query, "--format", "json", home=sql_home)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == [{"u": "00000000-0000-0000-0000-00000000002a", "i": "1 day 01:30:00",
                                        "h": 170141183460469231731687303715884105727, "b": "\\xFF\\x00a",
                                        "f": None, "d": 1.25, "l": [1, 2], "t": "2024-01-02 03:04:05"}]
    proc = marquee("sql", query, "--format", "csv", home=sql_home)
    assert proc.stdout.splitlines() == ["u,i,h,b,f,d,l,t", "00000000-0000-0000-0000-00000000002a,1 day 01:30:00,"
                                        "170141183460469231731687303715884105727,\\xFF\\x00a,nan,1.25,\"[1, 2]\","
                                        "2024-01-02 03:04:05"]


def test_an_empty_result_prints_its_columns_and_no_rows(sql_home):
    proc = marquee("sql", "SELECT item_id, title FROM items WHERE false", home=sql_home)
    assert proc.returncode == 0 and proc.stdout.splitlines() == ["item_id  title", "(no rows)"]


def test_cli_refuses_with_exit_2_and_one_line(sql_home):
    for query in ("DROP TABLE items", "select * from read_csv('/etc/passwd')"):
        proc = marquee("sql", query, home=sql_home)
        assert proc.returncode == 2 and proc.stdout == ""
        assert len(proc.stderr.strip().splitlines()) == 1 and proc.stderr.startswith("error: ")
    assert "root:" not in proc.stderr


@pytest.mark.parametrize("query", ["DESCRIBE items", "SHOW TABLES", "SUMMARIZE interactions",
                                   "EXPLAIN SELECT * FROM items", "EXPLAIN ANALYZE SELECT count(*) FROM items",
                                   "WITH x AS (SELECT 1 AS a) SELECT * FROM x", "FROM items LIMIT 2",
                                   "SELECT * FROM recommendations_latest"])
def test_read_only_queries_work(sql_home, query):
    assert fetch_readonly(query, sql_home).columns


PIVOTS = ["PIVOT interactions ON rating USING count(*) GROUP BY user_id ORDER BY user_id",
          "SELECT * FROM (PIVOT interactions ON rating USING count(*) GROUP BY user_id) ORDER BY user_id",
          "WITH p AS (PIVOT interactions ON rating USING count(*) GROUP BY user_id) FROM p ORDER BY user_id; -- done"]


@pytest.mark.parametrize("query", PIVOTS)
def test_a_pivot_taking_its_values_from_the_data_runs(sql_home, query):
    """DuckDB plans it as several statements (an enum of the values, then the query): the same rows as IN (...)."""
    listed = fetch_readonly(PIVOTS[0].replace("ON rating", "ON rating IN (1.0, 2.0, 3.0, 4.0, 5.0)"), sql_home)
    assert listed.columns == ["user_id", "1.0", "2.0", "3.0", "4.0", "5.0"] and len(listed.rows) == 7
    assert fetch_readonly(query, sql_home) == listed


def test_an_unpivot_of_such_a_pivot_runs_and_explain_says_to_list_the_values(sql_home):
    query = ("UNPIVOT (PIVOT interactions ON rating USING count(*) GROUP BY user_id) ON COLUMNS(* EXCLUDE user_id) "
             "INTO NAME rating VALUE n")
    assert len(fetch_readonly(query, sql_home).rows) == 35
    with pytest.raises(QueryRefused, match=r"only in a query of its own.*IN \('a', 'b'\)"):
        fetch_readonly("EXPLAIN " + PIVOTS[0], sql_home)
    assert fetch_readonly("EXPLAIN " + PIVOTS[0].replace("ON rating", "ON rating IN (1, 2)"), sql_home).rows


@pytest.mark.parametrize("query", ["SELECT 1 AS one; -- done", "SELECT 1 AS one; /* done */\n", "SELECT 1 AS one;; ",
                                   "SELECT 1 AS one -- done", "SELECT 1 AS one /* 東京 */; -- déjà vu"])
def test_comments_and_semicolons_after_the_last_statement_are_ignored(sql_home, query):
    assert fetch_readonly(query, sql_home).rows == [("1",)]


@pytest.mark.parametrize("query", ["", "   \n", "-- only a comment", "/* a */ ; -- b"])
def test_a_query_of_only_comments_or_spaces_asks_for_a_statement(query):
    with pytest.raises(QueryRefused, match="holds no statement, only spaces or comments"):
        check_query(query)


def test_row_cap_and_truncation_flag(sql_home):
    _, rows, truncated, _ = fetch_readonly("SELECT * FROM interactions ORDER BY ts", sql_home, max_rows=100)
    assert len(rows) == 100 and truncated is True
    _, rows, truncated, _ = fetch_readonly("SELECT count(*) AS n FROM interactions", sql_home)
    assert rows == [("300",)] and truncated is False
    proc = marquee("sql", "SELECT item_id FROM items ORDER BY item_id", "--max-rows", "5", "--format", "csv",
                   home=sql_home)
    assert proc.returncode == 0 and proc.stdout.splitlines() == ["item_id", "0", "1", "10", "11", "12"]
    assert "truncated" in proc.stderr
    proc = marquee("sql", "SELECT item_id, title FROM items WHERE item_id = '3'", "--format", "json", home=sql_home)
    assert json.loads(proc.stdout) == [{"item_id": "3", "title": "T3"}]


def test_schema_overview_lists_tables_views_and_columns(sql_home):
    frame = schema_overview(sql_home)
    kinds = dict(zip(frame.table_name, frame.kind, strict=False))
    assert kinds["interactions"] == "table" and kinds["recommendations_latest"] == "view"
    assert {"user_id", "item_id", "ts", "rating", "event_type"} <= set(
        frame[frame.table_name == "interactions"].column_name)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_export_round_trip(sql_home, tmp_path, suffix):
    (tmp_path / "out").mkdir()
    target = tmp_path / "out" / f"interactions{suffix}"
    assert export("interactions", target, sql_home) == 300
    back = duckdb.sql(f"SELECT user_id, item_id, ts, rating FROM '{target}'").fetchall()
    with store.read(sql_home) as con:
        original = con.execute("SELECT user_id, item_id, ts, rating FROM interactions").fetchall()
    assert sorted(tuple(map(str, r)) for r in back) == sorted(tuple(map(str, r)) for r in original)
    assert [p.name for p in target.parent.iterdir()] == [target.name]   # no temp file left behind


def test_export_refuses_unknown_names_and_types(sql_home, tmp_path):
    before = snapshot(sql_home)
    for name in ("items; DROP TABLE items", 'items" ; DROP TABLE items; --', "nope"):
        with pytest.raises(MarqueeError, match="unknown table or view"):
            export(name, tmp_path / "x.csv", sql_home)
    with pytest.raises(MarqueeError, match="unsupported export type"):
        export("items", tmp_path / "x.xlsx", sql_home)
    assert snapshot(sql_home) == before and not list(tmp_path.glob("x.*"))
    proc = marquee("export", "recommendations_latest", str(tmp_path / "recs.parquet"), home=sql_home)
    assert proc.returncode == 0 and (tmp_path / "recs.parquet").exists()


def test_export_that_cannot_be_written_is_one_error_and_leaves_nothing(sql_home, tmp_path):
    folder = tmp_path / "out.csv"
    folder.mkdir()
    with pytest.raises(MarqueeError, match="is a folder"):
        export("items", folder, sql_home)
    with pytest.raises(MarqueeError, match="cannot write the export"):
        export("items", "/proc/items.csv", sql_home)   # a folder no one can create files in, root included
    assert not list(Path("/proc").glob(".items.csv.*"))


def test_demo_store_counts_100k_through_the_cli(demo_home_ro):
    proc = marquee("sql", "select count(*) from interactions", home=demo_home_ro)
    assert proc.returncode == 0 and "100000" in proc.stdout
