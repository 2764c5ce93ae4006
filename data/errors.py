"""User-facing errors: each prints as one line and makes the CLI exit non-zero.

Exit 2 when the input or the user's setup is at fault (a bad row, a home that is a file or read-only); exit 1
when the machine failed the command (a full disk, a quota, a file size limit): a scheduler may retry that."""
from __future__ import annotations

import errno
import os

# the user's setup: a read-only folder, one without permission, a file where a folder must go (or the reverse), a
# folder that is not there; any other errno is the machine's (an I/O error, and these, which DuckDB and safetensors
# report in words only)
SETUP_ERRNOS = frozenset({errno.EACCES, errno.EROFS, errno.EPERM, errno.ENOTDIR, errno.EEXIST, errno.EISDIR,
                          errno.ENOENT, errno.ENAMETOOLONG, errno.ELOOP})
MACHINE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


class MarqueeError(Exception):
    """An error the user can act on; the CLI prints `error: <message>` and exits `exit_code`."""
    exit_code = 2


class MachineError(MarqueeError):
    """The machine failed the command, not the input (a full disk, a file size limit)."""
    exit_code = 1


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


def errno_of(exc: BaseException) -> int | None:
    """The errno behind `exc`: an OSError's own, else one of MACHINE_ERRNOS or SETUP_ERRNOS whose words its
    message holds (DuckDB and safetensors report a failed write in words: "File too large"); None if neither."""
    if isinstance(exc, OSError) and exc.errno:
        return exc.errno
    text = str(exc)
    return next((code for code in (*MACHINE_ERRNOS, *SETUP_ERRNOS) if os.strerror(code) in text), None)


def exit_code_for(exc: BaseException) -> int | None:
    """2 when the system error behind `exc` is the user's setup, 1 when it is the machine's; None when no errno
    is known (not a system error, or one worded in a way not recognised)."""
    code = errno_of(exc)
    return None if code is None else 2 if code in SETUP_ERRNOS else 1


def cannot(what: str, exc: BaseException) -> MarqueeError:
    """The one-line error for `what` ("PATH: cannot create the folder") failing with `exc`: a MachineError when
    the machine is at fault (exit 1), else a MarqueeError (exit 2). The reason is the system's words."""
    code = errno_of(exc)
    if isinstance(exc, OSError) and exc.strerror:
        reason = exc.strerror
    elif code is not None:   # DuckDB's message names a temporary file and more: its errno says it all
        reason = os.strerror(code)
    else:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return (MachineError if exit_code_for(exc) == 1 else MarqueeError)(f"{what} ({reason})")
