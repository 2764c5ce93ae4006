"""`marquee ingest`: every bad-input case refuses the whole file (naming file, row, column) and
leaves the store unchanged; --skip-invalid keeps the good rows; re-ingesting never duplicates."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import duckdb
import pytest

from data import store
from data.errors import InputError, MarqueeError
from data.ingest import ingest
from tests.ingest_helpers import count, marquee, snapshot, to_parquet, write

ITEMS = "item_id,title,genres,release_year\n1,Toy Story,Animation|Comedy,1995\n2,GoldenEye,Action,1995\n3,Heat,Crime,1995\n"


@pytest.fixture(scope="module")
def items_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with three items and one event, built once per module (tests copy it)."""
    home, files = tmp_path_factory.mktemp("items") / "home", tmp_path_factory.mktemp("files")
    store.init(home)
    ingest("items", write(files / "items.csv", ITEMS), home)
    ingest("interactions", write(files / "seed.csv", "user_id,item_id,timestamp,rating\nu0,1,100,4\n"), home)
    return home


@pytest.fixture
def items_home(items_template: Path, tmp_path: Path) -> Path:
    home = tmp_path / "home"
    shutil.copytree(items_template, home)
    return home


BAD_CSV = [
    # entity, file text, row, column, words in the reason
    ("interactions", "user_id,item_id,rating\nu1,1,4\n", None, "timestamp", "missing required column"),
    ("interactions", "user_id,item_id,timestamp\nu1,1,881250949\nu1,2,yesterday\nu1,3,also-bad\n", 2, "timestamp",
     "'yesterday' is not a timestamp"),
    ("interactions", "user_id,item_id,timestamp,rating\nu1,1,100,4\nu1,2,100,great\n", 2, "rating",
     "'great' is not a number"),
    ("interactions", "user_id,item_id,timestamp,rating\nu1,1,100,4\nu1,2,100,11\n", 2, "rating", "out of range 0..10"),
    ("interactions", "user_id,item_id,timestamp\nu1,1,100\n,2,100\n", 2, "user_id", "empty user_id"),
    ("interactions", "user_id,item_id,timestamp\nu1,1,100\nu1,99,100\n", 2, "item_id", "unknown item_id '99'"),
    ("interactions", "user_id,item_id,timestamp,event_type\nu1,1,100,view\nu2,1,100,view\nu1,1,100,view\n", 3,
     "timestamp", "duplicate event (same user_id, item_id, timestamp, event_type as row 1)"),
    ("interactions", "user_id,item_id,timestamp\nu1,1,99999999999999\n", 1, "timestamp", "is not a timestamp"),
    ("items", "item_id,title,release_year\n7,Seven,1995\n8,Eight,nineteen\n", 2, "release_year", "not an integer"),
    ("items", "item_id,title,release_year\n7,Seven,1995\n8,Eight,3000\n", 2, "release_year", "out of range"),
    ("items", "item_id,title\n7,Seven\n8,\n", 2, "title", "empty title"),
    ("items", "item_id,title\n7,Seven\n8,Eight\n7,Seven again\n", 3, "item_id", "duplicate item_id (same as row 1)"),
    ("users", "user_id,age\nu1,30\nu2,old\n", 2, "age", "not an integer"),
    ("users", "user_id,age\nu1,30\nu1,31\n", 2, "user_id", "duplicate user_id"),
    ("reviews", "review_id,text,item_id\nr1,Loved it,1\nr2,,1\n", 2, "text", "empty text"),
    ("reviews", "review_id,text,item_id\nr1,Loved it,1\nr2,Hated it,42\n", 2, "item_id", "unknown item_id '42'"),
    ("reviews", f"review_id,text\nr1,ok\nr2,{'x' * 100_001}\n", 2, "text", "more than the 100,000 allowed"),
    ("reviews", "review_id,text,timestamp\nr1,ok,2020-13-45\n", 1, "timestamp", "not a timestamp"),
    ("reviews", "review_id,text\nr1,ok\nr2,fine\nr1,again\n", 3, "review_id", "duplicate review_id (same as row 1)"),
    # values a cast would have let through
    ("interactions", "user_id,item_id,timestamp\nu1,1,100\nu1,2,1066-10-14T00:00:00\n", 2, "timestamp",
     "'1066-10-14T00:00:00' is outside the years 1900..2099"),
    ("interactions", "user_id,item_id,timestamp\nu1,1,5000000000\n", 1, "timestamp", "outside the years 1900..2099"),
    ("interactions", "user_id,item_id,timestamp\nu1,1,epoch\n", 1, "timestamp", "'epoch' is not a timestamp"),
    ("interactions", "user_id,item_id,timestamp\nu1,1,881250949\nu1,2,20230101\n", 2, "timestamp",
     "'20230101' reads as epoch seconds, a time in August 1970; write a date YYYY-MM-DD"),
    ("reviews", "review_id,text,timestamp\nr1,ok,2999-01-01\n", 1, "timestamp", "outside the years"),
    ("items", "item_id,title,release_date\n7,Seven,1995-05-05\n8,Eight,1200-01-01\n", 2, "release_date",
     "outside the years 1800..2100"),
    ("users", "user_id,age\nu1,30\nu2,25.7\n", 2, "age", "'25.7' is not an integer"),
    ("interactions", "user_id,item_id,timestamp\nu1,1,100\nu2\t,1,100\n", 2, "user_id", "control or invisible"),
    ("interactions", 'user_id,item_id,timestamp\n"\n",1,100\n', 1, "user_id", "control or invisible"),
    ("users", "user_id\nu1\nu1\u200b\n", 2, "user_id", "control or invisible"),
    ("interactions", "user_id,item_id,timestamp\nu1,1,2023-01-01T10:00:00+02:00\nu1,2,2023-01-01T10:00:00+25:00\n", 2,
     "timestamp", "'2023-01-01T10:00:00+25:00' has a UTC offset outside -12:00..+14:00"),
    ("reviews", "review_id,text,timestamp\nr1,ok,2023-01-01 10:00:00-1300\n", 1, "timestamp",
     "has a UTC offset outside -12:00..+14:00"),    ("items", "item_id,title,release_date,release_year\n7,Seven,1995-09-22,1995\n8,Eight,1995-06-01,1994\n", 2,
     "release_year", "release_year 1994 disagrees with release_date 1995-06-01"),
]


@pytest.mark.parametrize(("entity", "text", "row", "column", "reason"), BAD_CSV,
                         ids=[f"{c[0]}-{c[3]}-{c[4][:20]}" for c in BAD_CSV])
def test_bad_row_refuses_whole_file(items_home, tmp_path, entity, text, row, column, reason):
    path = write(tmp_path / "bad.csv", text)
    before = snapshot(items_home)
    with pytest.raises(InputError) as info:
        ingest(entity, path, items_home)
    err = info.value
    assert (err.file, err.row, err.column) == (str(path), row, column)
    assert reason in err.reason
    message = str(err)
    assert str(path) in message and (row is None or f"row {row}" in message) and repr(column) in message
    assert snapshot(items_home) == before


STRUCTURAL = [
    ("ragged.csv", "user_id,item_id,timestamp\nu1,1,100\nu1,2,100,extra\n", "line 3: ragged row"),
    ("quote.csv", 'user_id,item_id,timestamp\nu1,1,100\nu1,"2,100\nu1,3,100\n', "line 3: unterminated quote"),
    ("latin1.csv", b"user_id,item_id,timestamp\nu1,1,100\nu\xe9,2,100\n", "line 3: bytes that are not UTF-8"),
    ("latin1_header.csv", b"user_id,item_id,d\xe9but\nu1,1,100\n", "line 1 .the header. has bytes that are not UTF-8"),
    ("empty.csv", "", "file is empty"),
    ("header.csv", "user_id,item_id,timestamp\n", "no data rows"),
    ("events.json", '{"user_id": "u1"}', "unsupported file type '.json'"),
    ("corrupt.parquet", b"PAR1 this is not parquet PAR1", "not a readable Parquet file"),
    ("missing.csv", None, "no such file"),
    ("folder.csv", "folder", "is a folder, not a file"),
    ("cr.csv", "user_id,item_id,timestamp\ru1,1,100\r", "line 1 .the header. holds a carriage return"),
    ("openquote.csv", '"user_id,item_id,timestamp\nu1,1,100\n', "line 1 .the header. is not valid CSV: an unterminated"),
    ("long.csv", "user_id,item_id,timestamp\nu1,1,100\nu1," + "x" * 2_100_000 + ",100\n",
     "line 3: the line is 2,100,007 bytes, more than the"),
]


@pytest.mark.parametrize(("name", "content", "reason"), STRUCTURAL, ids=[s[0] for s in STRUCTURAL])
def test_malformed_file_is_one_clear_error(items_home, tmp_path, name, content, reason):
    path = tmp_path / name
    if content == "folder":
        path.mkdir()
    elif content is not None:
        write(path, content)
    before = snapshot(items_home)
    with pytest.raises(InputError, match=reason) as info:
        ingest("interactions", path, items_home, skip_invalid=True)   # structure errors refuse even then
    assert str(info.value).startswith(str(path)) and "\n" not in str(info.value)
    assert snapshot(items_home) == before


def test_cli_refuses_bad_file_with_one_line_and_nonzero_exit(items_home, tmp_path):
    path = write(tmp_path / "bad.csv", "user_id,item_id,timestamp\nu1,1,100\nu1,1,not-a-time\n")
    before = snapshot(items_home)
    proc = marquee("ingest", "interactions", str(path), home=items_home)
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert lines == [f"error: {path}, row 2, column 'timestamp': 'not-a-time' is not a timestamp "
                     "(epoch seconds or ISO 8601)"]
    assert snapshot(items_home) == before
    good = write(tmp_path / "good.csv", "user_id,item_id,timestamp\nu1,1,100\nu1,2,200\n")
    proc = marquee("ingest", "interactions", str(good), home=items_home)
    assert proc.returncode == 0 and "2 new" in proc.stdout


def test_skip_invalid_loads_good_rows_and_keeps_rejects(items_home, tmp_path):
    path = write(tmp_path / "mixed.csv", "user_id,item_id,timestamp,rating\n"
                 "u1,1,100,4\nu1,2,bad-time,4\nu1,99,100,4\nu2,3,2020-01-01T00:00:00Z,12\nu3,3,300,5\nu3,3,300,5\n")
    result = ingest("interactions", path, items_home, skip_invalid=True)
    assert (result.rows, result.new, result.rejected) == (6, 2, 4)
    with store.read(items_home) as con:
        loaded = con.execute("SELECT user_id, item_id FROM interactions WHERE user_id <> 'u0' ORDER BY 1").fetchall()
        rejects = con.execute('SELECT entity, file, "row", "column", reason, raw FROM rejected_rows ORDER BY "row"'
                              ).fetchall()
    assert loaded == [("u1", "1"), ("u3", "3")]
    assert [(r[2], r[3]) for r in rejects] == [(2, "timestamp"), (3, "item_id"), (4, "rating"), (6, "timestamp")]
    assert all(r[0] == "interactions" and r[1] == str(path) for r in rejects)
    assert "duplicate event" in rejects[3][4]
    assert json.loads(rejects[1][5]) == {"user_id": "u1", "item_id": "99", "timestamp": "100", "rating": "4"}


def test_same_rows_twice_are_not_duplicated(items_home, tmp_path):
    events = write(tmp_path / "e.csv", "user_id,item_id,timestamp,rating\nu1,1,100,4\nu1,2,200,3\n")
    first, second = ingest("interactions", events, items_home), ingest("interactions", events, items_home)
    assert (first.new, second.new, second.unchanged) == (2, 0, 2)
    assert count(items_home, "SELECT count(*) FROM interactions") == 3
    items = write(tmp_path / "i.csv", "item_id,title\n1,Toy Story (1995)\n4,Casino\n")
    with store.read(items_home) as con:
        loaded = dict(con.execute("SELECT item_id, ingested_at FROM items").fetchall())
    result = ingest("items", items, items_home)
    assert (result.new, result.updated) == (1, 1)
    with store.read(items_home) as con:
        assert con.execute("SELECT title, genres FROM items WHERE item_id = '1'").fetchall() == [
            ("Toy Story (1995)", "Animation|Comedy")]   # columns the file lacks are kept
        stamps = dict(con.execute("SELECT item_id, ingested_at FROM items").fetchall())
        assert con.execute("SELECT count(*) FROM items").fetchall()[0][0] == 4
    assert stamps["1"] > loaded["1"] and stamps["2"] == loaded["2"]   # when each row last changed
    reviews = write(tmp_path / "r.csv", "review_id,text,user_id,item_id\nr1,Great fun,u1,1\n")
    ingest("reviews", reviews, items_home)
    ingest("reviews", reviews, items_home)
    assert count(items_home, "SELECT count(*) FROM reviews") == 1


def test_events_already_stored_refresh_no_feature_rows(items_home, tmp_path):
    events = write(tmp_path / "e.csv", "user_id,item_id,timestamp,rating\nu1,1,100,4\nu2,1,200,3\n")
    first = marquee("ingest", "interactions", str(events), home=items_home)
    features_before = snapshot(items_home)
    again = marquee("ingest", "interactions", str(events), home=items_home)
    assert "refreshing item_engagement_daily" in first.stderr and "2 new" in first.stdout
    assert "refreshing" not in again.stderr and "0 new, 2 already in the store" in again.stdout
    assert snapshot(items_home) == features_before


def test_progress_does_not_claim_to_publish_rows_already_in_the_store(items_home, tmp_path):
    """Loading a file again publishes nothing: the progress line must not say it publishes its rows."""
    files = [("interactions", write(tmp_path / "e.csv", "user_id,item_id,timestamp\nu1,1,100\nu2,1,200\n"), "2 valid rows"),
             ("items", write(tmp_path / "i.csv", "item_id,title\n1,Toy Story\n"), "1 valid row")]
    for entity, path, valid in files:
        marquee("ingest", entity, str(path), home=items_home)
        again = marquee("ingest", entity, str(path), home=items_home)
        assert "0 new" in again.stdout and "already in the store" in again.stdout
        assert [line for line in again.stderr.splitlines() if line.startswith("publishing")] == [
            f"publishing the new or changed rows of {valid} ..."]


def test_an_empty_text_is_stored_as_null_from_parquet_as_from_csv(items_home, tmp_path):
    users = to_parquet(tmp_path / "u.parquet", "SELECT * FROM (VALUES ('p1', '', 'writer'), ('p2', 'F', ''))"
                                               " t(user_id, gender, occupation)")
    ingest("users", users, items_home)
    ingest("users", write(tmp_path / "u.csv", "user_id,gender,occupation\nc1,,writer\n"), items_home)
    with store.read(items_home) as con:
        rows = con.execute("SELECT user_id, gender, occupation FROM users WHERE user_id IN ('p1', 'p2', 'c1') "
                           "ORDER BY 1").fetchall()
    assert rows == [("c1", None, "writer"), ("p1", None, "writer"), ("p2", "F", None)]


def test_loading_unchanged_rows_again_updates_nothing(items_home, tmp_path):
    items = write(tmp_path / "i.csv", "item_id,title,genres\n7,Heat,Crime\n8,Ronin,\n")
    first = ingest("items", items, items_home)
    with store.read(items_home) as con:
        stamps = dict(con.execute("SELECT item_id, ingested_at FROM items").fetchall())
    again = ingest("items", items, items_home)
    assert (first.new, again.new, again.updated, again.unchanged) == (2, 0, 0, 2)
    assert "2 already in the store" in again.summary() and "updated" not in again.summary()
    changed = ingest("items", write(tmp_path / "j.csv", "item_id,title,genres\n7,Heat,Crime|Drama\n8,Ronin,\n"),
                     items_home)
    assert (changed.new, changed.updated, changed.unchanged) == (0, 1, 1)
    with store.read(items_home) as con:
        after = dict(con.execute("SELECT item_id, ingested_at FROM items").fetchall())
    assert after["8"] == stamps["8"] and after["7"] > stamps["7"]   # NULL genres compare equal to NULL


def test_parquet_types_timestamps_users_and_features(items_home, tmp_path):
    path = to_parquet(tmp_path / "e.parquet", """
        SELECT * FROM (VALUES ('u7', 1, TIMESTAMPTZ '2021-03-04 05:00:00+02', 4.5, 'rating', 'ignored'),
                              ('u8', 3, TIMESTAMPTZ '2021-03-05 00:00:00+00', NULL, 'click', 'ignored'))
        t(user_id, item_id, timestamp, rating, event_type, extra)""")
    result = ingest("interactions", path, items_home)
    assert (result.new, result.users_registered) == (2, 2)
    with store.read(items_home) as con:
        rows = con.execute("SELECT user_id, item_id, CAST(ts AS VARCHAR), event_type FROM interactions "
                           "WHERE user_id IN ('u7', 'u8') ORDER BY 1").fetchall()
        users = {r[0] for r in con.execute("SELECT user_id FROM users").fetchall()}
        engagement = con.execute("SELECT item_id, CAST(day AS VARCHAR), events FROM item_engagement_daily "
                                 "WHERE day >= DATE '2021-01-01' ORDER BY 1").fetchall()
    assert rows == [("u7", "1", "2021-03-04 03:00:00", "rating"), ("u8", "3", "2021-03-05 00:00:00", "click")]
    assert {"u0", "u7", "u8"} <= users
    assert engagement == [("1", "2021-03-04", 1), ("3", "2021-03-05", 1)]


@pytest.mark.parametrize("skip_invalid", [False, True])
def test_registered_users_are_the_typed_ids_of_the_loaded_rows(items_home, tmp_path, skip_invalid):
    """Users come from the file's distinct raw ids, typed (trimmed) afterwards; a rejected row's user
    is not registered."""
    rejected = "UNION ALL SELECT 'w1', 99999, 400" if skip_invalid else ""
    path = to_parquet(tmp_path / "e.parquet", f"""
        SELECT * FROM (VALUES (' w9 ', 1, 100), ('w9', 2, 200), ('w9  ', 3, 300), ('w8', 1, 100)) t(user_id, item_id, timestamp)
        {rejected}""")
    result = ingest("interactions", path, items_home, skip_invalid=skip_invalid)
    assert (result.new, result.rejected, result.users_registered) == (4, int(skip_invalid), 2)
    with store.read(items_home) as con:
        assert sorted(r[0] for r in con.execute("SELECT user_id FROM users WHERE user_id LIKE '%w%'").fetchall()) \
            == ["w8", "w9"]


def test_a_release_year_that_disagrees_with_the_release_date_is_rejected(items_home, tmp_path):
    path = write(tmp_path / "i.csv", "item_id,title,release_date,release_year\n"
                 "7,Seven,1995-09-22,1995\n8,Eight,1995-06-01,1994\n9,Nine,1999-01-01,\n10,Ten,,2001\n")
    result = ingest("items", path, items_home, skip_invalid=True)
    with store.read(items_home) as con:
        stored = con.execute("SELECT item_id, release_year, CAST(release_date AS VARCHAR) FROM items "
                             "WHERE CAST(item_id AS INTEGER) >= 7 ORDER BY CAST(item_id AS INTEGER)").fetchall()
        rejects = con.execute('SELECT "row", "column", reason FROM rejected_rows').fetchall()
    assert result.rejected == 1
    assert rejects == [(2, "release_year", "release_year 1994 disagrees with release_date 1995-06-01")]
    assert stored == [("7", 1995, "1995-09-22"), ("9", 1999, "1999-01-01"), ("10", 2001, None)]


def test_a_later_release_year_is_held_against_the_stored_release_date(items_home, tmp_path):
    """A file of release_year alone updates the year and would leave the stored date contradicting it:
    refused, naming the stored date; the same year, an item with no stored date, or a file that clears the
    date (an empty release_date) go in."""
    ingest("items", write(tmp_path / "a.csv", "item_id,title,release_date\n7,Seven,1995-09-22\n"), items_home)
    later = write(tmp_path / "b.csv", "item_id,title,release_year\n7,Seven,1994\n8,Eight,1990\n")
    with pytest.raises(InputError, match="row 1, column 'release_year': release_year 1994 disagrees with the "
                                         "release_date 1995-09-22 already stored for this item"):
        ingest("items", later, items_home)
    ingest("items", write(tmp_path / "c.csv", "item_id,title,release_year\n7,Seven,1995\n8,Eight,1990\n"),
           items_home)
    ingest("items", write(tmp_path / "d.csv", "item_id,title,release_year,release_date\n7,Seven,1994,\n"), items_home)
    ingest("items", later, items_home)
    with store.read(items_home) as con:
        assert con.execute("SELECT item_id, release_year, release_date FROM items WHERE item_id IN ('7', '8') "
                           "ORDER BY item_id").fetchall() == [("7", 1994, None), ("8", 1990, None)]


def test_epoch_and_iso_timestamps_and_default_event_type(items_home, tmp_path):
    path = write(tmp_path / "e.csv", "USER_ID,Item_Id,TIMESTAMP,rating\n"
                 "u1,1,881250949,4\nu1,2,2020-01-01T10:00:00+02:00,\nu1,3,2020-01-02,\n")
    ingest("interactions", path, items_home)
    with store.read(items_home) as con:
        got = con.execute("SELECT item_id, CAST(ts AS VARCHAR), event_type FROM interactions WHERE user_id = 'u1' "
                          "ORDER BY 1").fetchall()
    assert got == [("1", "1997-12-04 15:55:49", "rating"), ("2", "2020-01-01 08:00:00", "view"),
                   ("3", "2020-01-02 00:00:00", "view")]


# offset as written -> the stored UTC time, or None where the offset is refused as outside the range, MINUTES
# where its minutes are 60 or more (DuckDB itself reads them all: +05:75 as +06:15)
MINUTES = "minutes"
OFFSETS = [("+25:00", None), ("+2500", None), ("+25", None), ("+99:99", None), ("-12:01", None), ("+14:00:01", None),
           (".5-25", None), ("+14:00", "2022-12-31 20:00:00"), ("-1200", "2023-01-01 22:00:00"),
           ("+05:30", "2023-01-01 04:30:00"), ("-00", "2023-01-01 10:00:00"), ("Z", "2023-01-01 10:00:00"),
           (" Etc/GMT-14", "2022-12-31 20:00:00"), (" America/Port-au-Prince", "2023-01-01 15:00:00"),
           ("+05:75", MINUTES), ("-0060", MINUTES), ("+05:59", "2023-01-01 04:01:00")]


@pytest.mark.parametrize("fmt", ["csv", "parquet"])   # a Parquet column of text is checked as CSV text is
def test_a_utc_offset_no_place_uses_is_refused(items_home, tmp_path, fmt):
    rows = [(f"o{i}", f"2023-01-01T10:00:00{offset}") for i, (offset, _) in enumerate(OFFSETS)]
    rows.append(("epoch", "1e+9"))   # a sign in epoch text is no offset
    if fmt == "csv":
        path = write(tmp_path / "e.csv", "user_id,item_id,timestamp\n" + "".join(f"{u},1,{t}\n" for u, t in rows))
    else:
        values = ", ".join(f"('{u}', '1', '{t}')" for u, t in rows)
        path = to_parquet(tmp_path / "e.parquet", f"SELECT * FROM (VALUES {values}) t(user_id, item_id, timestamp)")
    result = ingest("interactions", path, items_home, skip_invalid=True)
    with store.read(items_home) as con:
        stored = dict(con.execute("SELECT user_id, CAST(ts AS VARCHAR) FROM interactions").fetchall())
        rejects = con.execute('SELECT "row", "column", reason FROM rejected_rows ORDER BY "row"').fetchall()
    refused = {i + 1: utc for i, (_, utc) in enumerate(OFFSETS) if utc in (None, MINUTES)}
    assert result.rejected == len(refused) and [r[0] for r in rejects] == list(refused)
    why = {None: "has a UTC offset outside -12:00..+14:00", MINUTES: "has UTC offset minutes of 60 or more"}
    assert all(c == "timestamp" and why[refused[n]] in r for n, c, r in rejects)
    assert {u: stored.get(u) for u, _ in rows} == {**{f"o{i}": None if utc == MINUTES else utc
                                                      for i, (_, utc) in enumerate(OFFSETS)},
                                                   "epoch": "2001-09-09 01:46:40"}


def test_a_compact_date_in_parquet_is_refused_not_stored_in_1970(items_home, tmp_path):
    """20230101 as a whole number reads as epoch seconds, August 1970: refused with its row; epoch seconds of
    the same file's other rows and a real 1970 ISO time elsewhere are not affected."""
    path = to_parquet(tmp_path / "e.parquet", "SELECT * FROM (VALUES ('u1', '1', 881250949), ('u1', '2', 20230101)) "
                                              "t(user_id, item_id, timestamp)")
    with pytest.raises(InputError, match=r"row 2, column 'timestamp'.*'20230101' reads as epoch seconds"):
        ingest("interactions", path, items_home)
    iso = write(tmp_path / "iso.csv", "user_id,item_id,timestamp\nu1,1,1970-08-15T10:00:00\n")
    assert ingest("interactions", iso, items_home).new == 1


def test_reviews_register_users_and_keep_text(items_home, tmp_path):
    text = 'A "quoted", multi-line\nreview with ünïcode'
    path = write(tmp_path / "r.csv", 'review_id,text,user_id,item_id,timestamp\nr1,"A ""quoted"", multi-line\n'
                 'review with ünïcode",reviewer9,2,2021-01-01\nr2,Short,,,\n')
    result = ingest("reviews", path, items_home)
    assert (result.new, result.users_registered) == (2, 1)
    with store.read(items_home) as con:
        assert con.execute("SELECT text, source FROM reviews WHERE review_id = 'r1'").fetchall() == [(text, "ingest")]
        assert con.execute("SELECT count(*) FROM users WHERE user_id = 'reviewer9'").fetchall()[0][0] == 1


def test_tsv_crlf_and_byte_order_mark(items_home, tmp_path):
    tsv = write(tmp_path / "e.tsv", "\ufeffuser_id\titem_id\ttimestamp\r\nu1\t1\t100\r\nu2\t2\t200\r\n".encode())
    assert ingest("interactions", tsv, items_home).new == 2
    bad = write(tmp_path / "bad.tsv", "user_id\titem_id\ttimestamp\r\nu1\t1\t100\r\nu2\t2\tsoon\r\n")
    with pytest.raises(InputError, match="row 2, column 'timestamp'"):
        ingest("interactions", bad, items_home)


@pytest.fixture
def empty_events_home(tmp_path: Path) -> Path:
    """Items but no events yet: the next events file is a first load."""
    home = tmp_path / "fresh"
    store.init(home)
    ingest("items", write(tmp_path / "items.csv", ITEMS), home)
    return home


# Several events of one user, title and day are fine; only equal (user, item, timestamp, event type)
# rows are duplicates. Groups of 2 and of 3+ take different routes through the check.
REPEATS = [
    ("three a day, all different", "u1,1,100,view\nu1,1,200,view\nu1,1,300,view\n", None),
    ("same second, other event type", "u1,1,100,view\nu1,1,100,rating\n", None),
    ("pair of equal events", "u2,2,50,view\nu1,1,100,view\nu1,1,100,view\n", 3),
    ("equal events among three", "u1,1,100,view\nu1,1,200,view\nu1,1,100,view\n", 3),
]


@pytest.mark.parametrize("home_fixture", ["empty_events_home", "items_home"], ids=["first-load", "later-load"])
@pytest.mark.parametrize(("text", "bad_row"), [r[1:] for r in REPEATS], ids=[r[0] for r in REPEATS])
def test_repeated_events_of_a_day_versus_duplicates(request, tmp_path, text, bad_row, home_fixture):
    home = request.getfixturevalue(home_fixture)
    path = write(tmp_path / "e.csv", "user_id,item_id,timestamp,event_type\n" + text)
    if bad_row is None:
        assert ingest("interactions", path, home).new == text.count("\n")
        return
    with pytest.raises(InputError) as info:
        ingest("interactions", path, home)
    assert (info.value.row, info.value.column) == (bad_row, "timestamp")
    assert "duplicate event" in str(info.value) and "as row " in str(info.value)


@pytest.mark.parametrize("fmt", ["parquet", "csv"])   # CSV is checked from a typed copy, Parquet from the file
@pytest.mark.parametrize("skip_invalid", [False, True])
def test_first_load_engagement_equals_its_definition(empty_events_home, tmp_path, skip_invalid, fmt):
    """A first load builds item_engagement_daily from the parts it computed while validating; the
    table must equal count(*) / count(DISTINCT user_id) / avg(rating) per title and day."""
    path = to_parquet(tmp_path / "e.parquet", """
        SELECT 'u' || (i % 7) AS user_id, CAST(1 + i % 3 AS VARCHAR) AS item_id,
               TIMESTAMP '2021-01-01' + to_seconds(i * 3593) AS timestamp,
               CASE WHEN i % 4 = 0 THEN NULL ELSE 1 + i % 5 END AS rating FROM range(3000) t(i)""")
    if skip_invalid:   # the same rows plus one that is rejected: the parts must leave it out
        path = to_parquet(tmp_path / "e2.parquet", f"""SELECT * FROM '{path}' UNION ALL
            SELECT 'u1', '2', TIMESTAMP '2021-01-01 10:00:00', 99""")
    if fmt == "csv":
        csv = tmp_path / "e.csv"
        duckdb.connect().execute(f"COPY (SELECT * FROM '{path}') TO '{csv}' (HEADER)")
        path = csv
    result = ingest("interactions", path, empty_events_home, skip_invalid=skip_invalid)
    assert (result.new, result.rejected) == (3000, int(skip_invalid))
    with store.read(empty_events_home) as con:
        cached = con.execute("SELECT item_id, day, events, users, round(mean_rating, 9) FROM item_engagement_daily "
                             "ORDER BY ALL").fetchall()
        want = con.execute("""SELECT item_id, CAST(ts AS DATE), count(*), count(DISTINCT user_id), round(avg(rating), 9)
            FROM interactions GROUP BY ALL ORDER BY ALL""").fetchall()
    assert cached == want and any(r[3] < r[2] for r in want)   # some users repeat within a day


def test_file_changed_during_ingest_loads_nothing(empty_events_home, tmp_path, monkeypatch):
    """Loading re-reads a Parquet file after checking it; a file replaced in between is refused."""
    import data.ingest as ingest_module

    path = to_parquet(tmp_path / "e.parquet", "SELECT 'u1' AS user_id, '1' AS item_id, 100 AS timestamp")
    real_publish = ingest_module._publish

    def publish_then_replace(*args):
        out = real_publish(*args)
        to_parquet(path, "SELECT 'u1' AS user_id, '1' AS item_id, 100 AS timestamp, 'x' AS extra_column")
        return out

    monkeypatch.setattr(ingest_module, "_publish", publish_then_replace)
    before = snapshot(empty_events_home)
    with pytest.raises(InputError, match="changed while it was being ingested"):
        ingest("interactions", path, empty_events_home)
    assert snapshot(empty_events_home) == before


WRONG_PARQUET_TYPES = [
    # entity, columns of the file (a DuckDB SELECT), the refused column, the words of the reason
    ("interactions", "'u1' AS user_id, '1' AS item_id, 100 AS timestamp, true AS rating", "rating",
     "holds BOOLEAN values; interactions.rating takes numbers"),
    ("interactions", "['u1', 'u2'] AS user_id, '1' AS item_id, 100 AS timestamp", "user_id", "holds VARCHAR[] values"),
    ("users", "1.0 AS user_id", "user_id", "holds DECIMAL(2,1) values; users.user_id takes text or whole numbers"),
    ("reviews", "'r1' AS review_id, '\\xFF\\xFE'::BLOB AS text", "text", "holds BLOB values; reviews.text takes text"),
    ("items", "'7' AS item_id, {'a': 1} AS title", "title", "holds STRUCT"),
]


@pytest.mark.parametrize(("entity", "select", "column", "reason"), WRONG_PARQUET_TYPES,
                         ids=[w[0] + "-" + w[2] for w in WRONG_PARQUET_TYPES])
def test_parquet_column_of_a_wrong_type_is_refused(items_home, tmp_path, entity, select, column, reason):
    path = to_parquet(tmp_path / "typed.parquet", f"SELECT {select}")
    before = snapshot(items_home)
    with pytest.raises(InputError, match=re.escape(reason)) as info:
        ingest(entity, path, items_home, skip_invalid=True)   # a whole column is wrong: no row can load
    assert info.value.column == column and snapshot(items_home) == before


def test_parquet_values_are_range_checked_as_they_come(items_home, tmp_path):
    """Native timestamps and floats get the checks text gets: no year 1, no rounding 30.9 to 31."""
    events = to_parquet(tmp_path / "e.parquet", "SELECT 'u1' AS user_id, '1' AS item_id, "
                        "TIMESTAMP '0001-01-01' AS timestamp")
    with pytest.raises(InputError, match="outside the years 1900..2099") as info:
        ingest("interactions", events, items_home)
    assert (info.value.row, info.value.column) == (1, "timestamp")
    users = to_parquet(tmp_path / "u.parquet", "SELECT * FROM (VALUES ('a', 30.0), ('b', 30.9)) t(user_id, age)")
    with pytest.raises(InputError, match="'30.9' is not an integer") as info:
        ingest("users", users, items_home)
    assert info.value.row == 2


def test_columns_named_like_stagings_own_are_ignored(items_home, tmp_path):
    """A file may have columns called rowid, __row or file_row_number: they are extra columns, and row
    numbers in errors still count the file's rows."""
    csv_file = write(tmp_path / "e.csv", "user_id,item_id,timestamp,rowid,__row\nu7,1,100,abc,x\nu7,2,100,d,y\n")
    assert ingest("interactions", csv_file, items_home).new == 2
    parquet = to_parquet(tmp_path / "e.parquet", "SELECT * FROM (VALUES ('u8', '1', 100, 7), ('u8', 'nope', 100, 3))"
                         " t(user_id, item_id, timestamp, file_row_number)")
    with pytest.raises(InputError, match="unknown item_id 'nope'") as info:
        ingest("interactions", parquet, items_home)
    assert info.value.row == 2
    ok = to_parquet(tmp_path / "ok.parquet", "SELECT 'u9' AS user_id, '1' AS item_id, 100 AS timestamp, "
                    "5 AS file_row_number, 'z' AS __row")
    assert ingest("interactions", ok, items_home).new == 1


def test_loading_a_file_again_replaces_its_rejects(items_home, tmp_path):
    path = write(tmp_path / "mixed.csv", "user_id,item_id,timestamp,rating\nu1,1,100,4\nu2,1,100,99\n")
    for _ in range(2):
        assert ingest("interactions", path, items_home, skip_invalid=True).rejected == 1
    assert count(items_home, "SELECT count(*) FROM rejected_rows") == 1
    write(path, "user_id,item_id,timestamp,rating\nu1,1,100,4\nu2,1,100,9\n")   # fixed
    assert ingest("interactions", path, items_home).rejected == 0
    assert count(items_home, "SELECT count(*) FROM rejected_rows") == 0


@pytest.mark.parametrize("bounds", [(0.0, float("inf")), (float("nan"), 5.0), (5.0, 1.0)])
def test_rating_range_must_be_finite_and_ordered(items_home, tmp_path, bounds):
    path = write(tmp_path / "e.csv", "user_id,item_id,timestamp,rating\nu1,1,100,4\n")
    with pytest.raises(MarqueeError, match="rating range: need two finite numbers"):
        ingest("interactions", path, items_home, rating_range=bounds)
