"""What `marquee ingest` accepts: the columns of each entity, their kinds, and their limits.

Kept apart from the reading and the SQL so the accepted file formats (documented in
docs/schema.md) are one table to read. Column names in files are matched case-insensitively;
columns not named here are ignored.
"""
from __future__ import annotations

from dataclasses import dataclass

MAX_TEXT_CHARS = 100_000                 # a review longer than this is refused, not truncated
RATING_RANGE = (0.0, 10.0)               # default; `--rating-range LO HI` overrides
EPOCH_LIMIT = 1e11   # |epoch seconds| beyond this (year 5138) is not read as a time at all
COMPACT_DATES = (19000101, 21000101)   # dates written YYYYMMDD: as epoch seconds, 1970-08-09 .. 1970-08-31
YEARS = (1900, 2099)   # timestamps outside these years are refused (epoch 0 or year 2999 is a data bug)
UTC_OFFSETS = (-12, 14)   # hours: the offsets in use, Baker Island (-12:00) to Kiribati's Line Islands (+14:00)


@dataclass(frozen=True)
class Column:
    name: str                 # name in the file
    kind: str                 # id | text | int | double | timestamp | date
    required: bool = False
    target: str | None = None  # column in the store when it differs (timestamp -> ts)
    lo: float | None = None   # range of the value (dates and timestamps: of the year)
    hi: float | None = None
    nonempty: bool = False    # text that must not be blank
    max_chars: int | None = None
    aliases: tuple[str, ...] = ()

    @property
    def store_name(self) -> str:
        return self.target or self.name


@dataclass(frozen=True)
class Entity:
    name: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]           # store columns that identify a row (duplicates refused)
    references_items: bool = False  # item_id must exist in `items` when given
    registers_users: bool = False   # user_id values not yet in `users` are added there

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)


ENTITIES: dict[str, Entity] = {
    "users": Entity("users", (
        Column("user_id", "id", required=True),
        Column("age", "int", lo=0, hi=130),
        Column("gender", "text"), Column("occupation", "text"), Column("zip_code", "text"),
    ), key=("user_id",)),
    "items": Entity("items", (
        Column("item_id", "id", required=True),
        Column("title", "text", required=True, nonempty=True),
        Column("genres", "text"),
        Column("release_year", "int", lo=1800, hi=2100),
        Column("release_date", "date", lo=1800, hi=2100),
    ), key=("item_id",)),
    "interactions": Entity("interactions", (
        Column("user_id", "id", required=True),
        Column("item_id", "id", required=True),
        Column("timestamp", "timestamp", required=True, target="ts", aliases=("ts",), lo=YEARS[0], hi=YEARS[1]),
        Column("rating", "double", lo=RATING_RANGE[0], hi=RATING_RANGE[1]),
        Column("event_type", "text"),
    ), key=("user_id", "item_id", "ts", "event_type"), references_items=True, registers_users=True),
    "reviews": Entity("reviews", (
        Column("review_id", "id", required=True),
        Column("text", "text", required=True, nonempty=True, max_chars=MAX_TEXT_CHARS),
        Column("user_id", "id"),
        Column("item_id", "id"),
        Column("timestamp", "timestamp", target="ts", aliases=("ts",), lo=YEARS[0], hi=YEARS[1]),
        Column("source", "text"),
    ), key=("review_id",), references_items=True, registers_users=True),
}
