"""`--history FILE`: extra (user_id, item_id) events folded in at scoring time, checked first.

The file is read and checked as `marquee ingest interactions` reads its files (data.input_file):
the same formats, and every problem one line naming the file, the 1-based data row and the column.
A timestamp is optional (fold-in ignores time) but checked when present.
"""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pandas as pd

from data.errors import InputError
from data.ingest_spec import ENTITIES, Entity
from data.input_file import read_rows

_EVENTS = ENTITIES["interactions"]
HISTORY = Entity("history", (_EVENTS.column("user_id"), _EVENTS.column("item_id"),
                             replace(_EVENTS.column("timestamp"), required=False)), key=())


def read(path: str | Path, item_index: dict[str, int]) -> pd.DataFrame:
    """The file's user_id, item_id (as str); InputError on a file ingest would refuse, or on a
    title the model does not know (it can only fold in titles it was trained on)."""
    df = read_rows(path, HISTORY, allow_empty=True)[["user_id", "item_id"]]
    unknown = ~df["item_id"].isin(item_index.keys())
    if unknown.any():
        row = int(unknown.to_numpy().argmax())
        raise InputError(str(path), f"unknown item id {df['item_id'].iloc[row]!r} (not in the model's catalog; "
                         "retrain after ingesting it)", row=row + 1, column="item_id")
    return df.reset_index(drop=True)
