"""User-facing errors: each prints as one line and makes the CLI exit non-zero."""
from __future__ import annotations


class MarqueeError(Exception):
    """An error the user can act on; the CLI prints `error: <message>` and exits 2."""


class InputError(MarqueeError):
    """Bad input data, located as precisely as we can: file, row (1-based data row), column."""

    def __init__(self, file: str, reason: str, row: int | None = None, column: str | None = None):
        self.file, self.reason, self.row, self.column = str(file), reason, row, column
        where = [self.file]
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column {column!r}")
        super().__init__(f"{', '.join(where)}: {reason}")


class StoreBusyError(MarqueeError):
    """The store stayed locked by another process for longer than the retry budget."""
