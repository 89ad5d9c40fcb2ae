"""An on-disk cache of what is costly to redo when a pack is loaded again: parsed files and table lint.

Off unless a caller turns it on (the CLI does, `--no-cache` keeps it off), so the library stays free of
side effects. Every entry is keyed by the SHA-256 of what it was computed from (a file's bytes and
name, a table's spec), the zhidu version, the cache format and the Python version: a changed file is
a miss, never a stale hit. Entries are written to a temporary file and renamed; an entry whose
checksum or header does not match is deleted and computed again."""

from __future__ import annotations

import hashlib
import os
import pickle  # noqa: S403 - entries are read only from a private folder this user owns, and are checksummed
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

FORMAT = 1
_MAGIC = b"zhidu-cache\n"
T = TypeVar("T")

_active: Path | None = None


def default_dir() -> Path:
    """ZHIDU_CACHE_DIR, else $XDG_CACHE_HOME/zhidu, else ~/.cache/zhidu."""
    if os.environ.get("ZHIDU_CACHE_DIR"):
        return Path(os.environ["ZHIDU_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "zhidu"


def _usable(folder: Path) -> bool:
    """A folder only this user can write: anyone who can write it could plant entries."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = folder.stat()
    except OSError:
        return False
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        return False
    return not info.st_mode & 0o022


@contextmanager
def active(folder: Path | None = None) -> Iterator[Path | None]:
    """Use the cache inside this block (the default folder when None); unusable folders turn it off."""
    global _active
    previous = _active
    chosen = folder or default_dir()
    _active = chosen if _usable(chosen) else None
    try:
        yield _active
    finally:
        _active = previous


def key(*parts: object) -> str:
    """The SHA-256 of the parts with the version, format and Python: what makes an entry valid."""
    from . import __version__

    digest = hashlib.sha256()
    for part in (__version__, FORMAT, sys.version_info[:2], _code_stamp(), *parts):
        data = part if isinstance(part, bytes) else repr(part).encode("utf-8", "surrogatepass")
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()


@cache
def _code_stamp() -> str:
    """The engine's own files (name, size, mtime): an edited install or checkout never reads entries
    that older code wrote under the same version number."""
    root = Path(__file__).resolve().parent
    stamp = hashlib.sha256()
    for path in sorted(root.rglob("*.py")) + sorted(root.rglob("*.json")):
        info = path.stat()
        stamp.update(f"{path.relative_to(root)}:{info.st_size}:{info.st_mtime_ns};".encode())
    return stamp.hexdigest()


def cached(kind: str, entry_key: str, compute: Callable[[], T]) -> T:
    """compute(), or its stored result under (kind, entry_key) when the cache is on and holds it."""
    found = get(kind, entry_key)
    if found is not None:
        return found[0]
    value = compute()
    put(kind, entry_key, value)
    return value


def get(kind: str, entry_key: str) -> tuple[Any] | None:
    """(value,) when the cache is on and holds a sound entry, else None."""
    return None if _active is None else _read(_path(_active, kind, entry_key), entry_key)


def put(kind: str, entry_key: str, value: Any) -> None:
    """Store a value when the cache is on; a value that cannot be stored is skipped."""
    if _active is not None:
        _write(_path(_active, kind, entry_key), entry_key, value)


def _path(folder: Path, kind: str, entry_key: str) -> Path:
    return folder / kind / entry_key[:2] / f"{entry_key}.pickle"


def _read(path: Path, entry_key: str) -> tuple[Any] | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    head = _MAGIC + entry_key.encode() + b"\n"
    body = data[len(head) + 64 :]
    if not data.startswith(head) or data[len(head) : len(head) + 64] != hashlib.sha256(body).hexdigest().encode():
        path.unlink(missing_ok=True)  # corrupt or foreign: compute it again
        return None
    try:
        return (pickle.loads(body),)  # noqa: S301 - checksummed entry from the user's private folder
    except Exception:  # noqa: BLE001 - an entry that does not load is rebuilt, never an error
        path.unlink(missing_ok=True)
        return None


def _write(path: Path, entry_key: str, value: Any) -> None:
    try:
        body = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    except Exception:  # noqa: BLE001 - what cannot be pickled is simply not cached
        return
    data = _MAGIC + entry_key.encode() + b"\n" + hashlib.sha256(body).hexdigest().encode() + body
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".entry.", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError:
        return  # a full or read-only disk: the cache is an optimisation only
