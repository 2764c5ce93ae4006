"""Writing a file the user named all at once: under a temporary name beside it, renamed into place.

A reader never sees half a file, and a write that fails leaves nothing behind (`marquee export`,
`marquee score sentiment --output`).
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """Yields the temporary path to write; it replaces `path` when the block succeeds and is removed
    whatever happens."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(OSError):   # renamed already, or its folder never existed
            tmp.unlink(missing_ok=True)
