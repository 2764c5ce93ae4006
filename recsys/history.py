"""`--history FILE`: extra (user_id, item_id) events folded in at scoring time, checked first.

The file is read and checked as `marquee ingest interactions` reads its files (data.input_file):
the same formats, and every problem one line naming the file, the 1-based data row and the column.
A timestamp is optional (fold-in ignores time) but checked when present.
"""
from __future__ import annotations

from collections.abc import Sequence
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


def read(path: str | Path, item_index: dict[str, int], event_types: Sequence[str] | None = None
         ) -> tuple[pd.DataFrame, list[str]]:
    """The file's user_id, item_id (as str), and every user it names; InputError on a file ingest would
    refuse, or on a title the model does not know (it can only fold in titles it was trained on).

    event_types: those of a run that learned from some types only. A file with an event_type column then
    gives only its rows of those types (a blank type is what ingest makes of it: view, or rating when
    rated): a purchases-only run must not fold in views. Its users are named still (they get the popular
    titles, as a stored user without such events does). A file without the column gives every row."""
    df = read_rows(path, HISTORY, allow_empty=True)
    unknown = ~df["item_id"].isin(item_index.keys())
    if unknown.any():
        row = int(unknown.to_numpy().argmax())
        raise InputError(str(path), f"unknown item id {df['item_id'].iloc[row]!r} (the run knows only the titles "
                         "that had events when it trained: ingest its events, then retrain)", row=row + 1, column="item_id")
    users = list(dict.fromkeys(df["user_id"]))
    if event_types and "event_type" in df:
        df = df[_event_types(df).isin(list(event_types))]
    return df[["user_id", "item_id"]].reset_index(drop=True), users


def _event_types(df: pd.DataFrame) -> pd.Series:
    """Each row's event type, blanks filled as ingest fills them (data.ingest_validate.DEFAULTS)."""
    rated = df["rating"].notna() if "rating" in df else pd.Series(False, index=df.index)
    return df["event_type"].fillna(rated.map({True: "rating", False: "view"}))
