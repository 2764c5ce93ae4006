"""`--history FILE`: extra (user_id, item_id) events folded in at scoring time, checked first.

Every problem is reported as one line naming the file, the 1-based data row and the column.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from data.errors import InputError

COLUMNS = ("user_id", "item_id")


def read(path: str | Path, item_index: dict[str, int]) -> pd.DataFrame:
    """The file's user_id, item_id (as str); InputError on a missing column, an empty id, or a
    title the model does not know (it can only fold in titles it was trained on)."""
    path = Path(path)
    if not path.exists():
        raise InputError(str(path), "no such file")
    try:
        if path.suffix.lower() == ".parquet":
            df = pd.read_parquet(path)
        else:
            df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception as exc:  # unreadable: say so in one line
        raise InputError(str(path), f"cannot read as {'Parquet' if path.suffix == '.parquet' else 'CSV'}: {exc}") from None
    for col in COLUMNS:
        if col not in df.columns:
            raise InputError(str(path), f"missing column {col!r} (need {', '.join(COLUMNS)})", column=col)
    df = df[list(COLUMNS)].astype(str)
    for col in COLUMNS:
        blank = df[col].str.strip().isin(["", "nan", "None", "<NA>"])
        if blank.any():
            raise InputError(str(path), "empty id", row=int(blank.to_numpy().argmax()) + 1, column=col)
    unknown = ~df["item_id"].isin(item_index.keys())
    if unknown.any():
        row = int(unknown.to_numpy().argmax())
        raise InputError(str(path), f"unknown item id {df['item_id'].iloc[row]!r} (not in the model's catalog; "
                         "retrain after ingesting it)", row=row + 1, column="item_id")
    return df.reset_index(drop=True)
