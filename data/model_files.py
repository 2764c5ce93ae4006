"""Reading a run's model files: JSON and safetensors only, so loading a model never runs code.

Every pipeline reads its files through here, so a file that is missing, empty, truncated, not
JSON, of the wrong shape, a planted pickle or bytes changed since saving (a SHA-256 recorded at
save time; files saved before checksums are taken as they are) is one `ModelFileError` naming the
file, never a traceback. The pipeline's verb wraps its loading in `of_run` to say which run it is
and how to replace it.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from data.errors import MarqueeError

REASON_CHARS = 160
Kind = type | tuple[type, ...]   # what a JSON key must hold: dict, list, str, int or float
STRUCTURE_ERRORS = (KeyError, IndexError, TypeError, ValueError, RuntimeError, OSError)


def _one_line(text: object) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= REASON_CHARS else text[:REASON_CHARS - 3] + "..."


class ModelFileError(MarqueeError):
    """A model file that is missing or damaged; `of_run` adds which run and the command that replaces it."""

    def __init__(self, path: str | Path, reason: object, run_id: str | None = None, pipeline: str | None = None):
        self.path, self.reason, self.run_id, self.pipeline = Path(path), _one_line(reason), run_id, pipeline
        if run_id is None:
            message = f"{self.path}: this model file is damaged or incomplete ({self.reason})"
        else:
            message = (f"{self.path}: the model files of run {run_id} are damaged or incomplete ({self.reason}); "
                       f"train a new run with `marquee train {pipeline}`")
        super().__init__(message)


@contextmanager
def of_run(run_id: str, pipeline: str) -> Iterator[None]:
    """Within: a ModelFileError names the run and says how to train a new one."""
    try:
        yield
    except ModelFileError as exc:
        raise ModelFileError(exc.path, exc.reason, run_id, pipeline) from exc


@contextmanager
def built_from(path: str | Path, errors: tuple[type[BaseException], ...] = STRUCTURE_ERRORS) -> Iterator[None]:
    """Within: building a model from `path`'s contents fails as a ModelFileError naming `path`
    (a tensor missing or of the wrong shape, a config the model class refuses)."""
    try:
        yield
    except ModelFileError:
        raise
    except errors as exc:
        raise ModelFileError(path, f"{type(exc).__name__}: {exc}") from exc


def sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file, recorded beside the weights when saving."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def recorded_sha256(config: Mapping[str, Any], name: str, config_path: str | Path) -> str | None:
    """The SHA-256 that `config` (read from `config_path`) recorded for its file `name`; None for
    models saved before checksums were recorded."""
    sums = config.get("sha256", {})
    if not isinstance(sums, dict) or not isinstance(sums.get(name, ""), str):
        raise ModelFileError(config_path, "'sha256' is not an object of hex digests")
    return sums.get(name)


def _read_bytes(path: Path) -> bytes:
    if not path.exists():
        raise ModelFileError(path, "missing")
    if not path.is_file():
        raise ModelFileError(path, "not a file")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ModelFileError(path, exc.strerror or exc) from exc


def _type_name(kind: Kind) -> str:
    names = {dict: "an object", list: "a list", str: "a string", int: "a whole number", float: "a number"}
    kinds = kind if isinstance(kind, tuple) else (kind,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def read_json(path: str | Path, keys: Mapping[str, Kind] | None = None,
              optional: Mapping[str, Kind] | None = None) -> dict[str, Any]:
    """A JSON object from `path`, with each of `keys` present and of its type, and each of `optional`
    of its type where present (a bool is none of these types)."""
    path = Path(path)
    raw = _read_bytes(path)
    if not raw.strip():
        raise ModelFileError(path, "empty")
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ModelFileError(path, "not UTF-8 text, so not JSON") from exc
    except json.JSONDecodeError as exc:
        raise ModelFileError(path, f"not valid JSON: {exc.msg} at line {exc.lineno}") from exc
    if not isinstance(data, dict):
        raise ModelFileError(path, f"a JSON {type(data).__name__} where an object is expected")
    missing = [key for key in keys or {} if key not in data]
    if missing:
        raise ModelFileError(path, f"no {', '.join(map(repr, missing))}")
    for key, kind in {**(optional or {}), **(keys or {})}.items():
        if key in data and (not isinstance(data[key], kind) or isinstance(data[key], bool)):
            raise ModelFileError(path, f"{key!r} is not {_type_name(kind)}")
    return data


def check_safetensors(path: str | Path, checksum: str | None = None) -> Path:
    """`path` if it is a readable safetensors file whose SHA-256 is `checksum` (when one was recorded)."""
    from safetensors import SafetensorError, safe_open

    path = Path(path)
    if not path.exists():
        raise ModelFileError(path, "missing")
    if not path.is_file():
        raise ModelFileError(path, "not a file")
    try:
        digest = sha256(path) if checksum is not None else None
    except OSError as exc:
        raise ModelFileError(path, exc.strerror or exc) from exc
    if digest != checksum:
        raise ModelFileError(path, "its bytes changed since it was saved: SHA-256 mismatch")
    try:
        with safe_open(str(path), framework="numpy"):
            pass
    except (SafetensorError, OSError) as exc:
        raise ModelFileError(path, f"not a safetensors file: {exc}") from exc
    return path


def read_tensors(path: str | Path, names: Iterable[str] = (), checksum: str | None = None,
                 framework: str = "pt") -> dict[str, Any]:
    """Every tensor in a safetensors file (torch tensors, or numpy arrays with framework="numpy");
    each of `names` must be there."""
    from safetensors import SafetensorError, safe_open

    path = check_safetensors(path, checksum)
    try:
        with safe_open(str(path), framework=framework, device="cpu") as f:
            tensors = {name: f.get_tensor(name) for name in f.keys()}
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFileError(path, f"not a safetensors file: {exc}") from exc
    missing = [n for n in names if n not in tensors]
    if missing:
        raise ModelFileError(path, f"no tensor {', '.join(map(repr, missing))}")
    return tensors
