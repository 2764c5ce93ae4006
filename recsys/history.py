"""`--history FILE`: extra (user_id, item_id) events folded in at scoring time, checked first.

The file is read and checked as `marquee ingest interactions` reads its files (data.input_file):
the same formats, and every problem one line naming the file, the 1-based data row and the column.
Rows of titles the run never learned are skipped (and counted), not refused: only retraining can use them.
A timestamp is optional (fold-in ignores time) but checked when present.
"""
from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import replace
from pathlib import Path

import pandas as pd

from data.errors import InputError
from data.ingest_spec import ENTITIES, Entity
from data.input_file import read_rows

_EVENTS = ENTITIES["interactions"]
HISTORY = Entity("history", (_EVENTS.column("user_id"), _EVENTS.column("item_id"),
                             replace(_EVENTS.column("timestamp"), required=False), _EVENTS.column("rating"),
                             _EVENTS.column("event_type")), key=())


def read(path: str | Path, known: Collection[str], catalogue: Collection[str],
         event_types: Sequence[str] | None = None) -> tuple[pd.DataFrame, list[str], int]:
    """(user_id, item_id rows (as str) of the run's `known` titles, every user the file names, rows skipped).
    InputError on a file ingest would refuse, so on a title not in the store's `catalogue` too (a typo must not
    pass for a title the run has not seen yet).

    A catalogued title the run does not know (ingested, or first watched, after it trained) cannot be folded in
    without retraining: its rows are skipped and counted, and the rest of the file still counts.

    event_types: those of a run that learned from some types only. A file with an event_type column then
    gives only its rows of those types (a blank type is what ingest makes of it: view, or rating when
    rated): a purchases-only run must not fold in views. Its users are named still (they get the popular
    titles, as a stored user without such events does). A file without the column gives every row."""
    # a rating's value is never used here (only whether a row has one), and the store's scale may be --rating-range's
    df = read_rows(path, HISTORY, allow_empty=True, rating_range=None)
    unknown = ~df["item_id"].isin(catalogue)
    if unknown.any():
        row = int(unknown.to_numpy().argmax())
        raise InputError(str(path), f"unknown item id {df['item_id'].iloc[row]!r} (not in items: ingest the items "
                         "first)", row=row + 1, column="item_id")
    users = list(dict.fromkeys(df["user_id"]))
    if event_types and "event_type" in df:
        df = df[_event_types(df).isin(list(event_types))]
    new = ~df["item_id"].isin(known)
    return df.loc[~new, ["user_id", "item_id"]].reset_index(drop=True), users, int(new.sum())


def _event_types(df: pd.DataFrame) -> pd.Series:
    """Each row's event type, blanks filled as ingest fills them (data.ingest_validate.DEFAULTS)."""
    rated = df["rating"].notna() if "rating" in df else pd.Series(False, index=df.index)
    return df["event_type"].fillna(rated.map({True: "rating", False: "view"}))
