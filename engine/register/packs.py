"""Published pack versions: every file of a pack (and of the packs it extends) stored under its content hash."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import tempfile
import threading
import zlib
from pathlib import Path, PurePosixPath
from typing import Any

from ..compiler import load_policy
from ..loader import POLICY_FILE, resolve_pack
from ..policy import Policy
from ..source import read_document
from .db import RegisterError

SKIP_DIRS = {"__pycache__", ".git"}


def pack_files(ref: str | Path) -> dict[str, bytes]:
    """Relative path → bytes for every file of the pack; a pack it extends is stored at the path
    `extends:` names (so the stored copy resolves to the stored base, not to whatever is installed)."""
    root = resolve_pack(ref)
    files: dict[str, bytes] = {}
    _collect(root, PurePosixPath("."), files, depth=0)
    return files


def _collect(root: Path, prefix: PurePosixPath, files: dict[str, bytes], depth: int) -> None:
    if depth > 8:
        raise RegisterError(f"{root}: packs extend each other more than 8 levels deep", code="pack")
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if path.is_file() and not SKIP_DIRS & set(rel.parts):
            files[str(prefix / rel.as_posix())] = path.read_bytes()
    data, _smap, _diags = read_document(root / POLICY_FILE, str(root / POLICY_FILE))
    base = data.get("extends") if isinstance(data, dict) else None
    if isinstance(base, str):
        local = (root / base).resolve()
        base_root = resolve_pack(local if (local / POLICY_FILE).is_file() else base)
        _collect(base_root, PurePosixPath(os.path.normpath(str(prefix / base))), files, depth + 1)


def content_hash(files: dict[str, bytes]) -> str:
    digest = hashlib.sha256()
    for name in sorted(files):
        data = files[name]
        digest.update(f"{name}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def pack_bundle(files: dict[str, bytes]) -> bytes:
    doc = {name: base64.b64encode(data).decode("ascii") for name, data in sorted(files.items())}
    return zlib.compress(json.dumps(doc, sort_keys=True).encode("utf-8"), 9)


def unbundle(blob: bytes) -> dict[str, bytes]:
    doc = json.loads(zlib.decompress(blob))
    return {name: base64.b64decode(text) for name, text in doc.items()}


_policies: dict[str, Policy] = {}
_lock = threading.Lock()


def cache_root() -> Path:
    return Path(tempfile.gettempdir()) / f"zhidu-packs-{os.getuid()}"


def policy_of(pack_id: str, digest: str, blob_loader: Any) -> Policy:
    """The compiled Policy of a stored version: its files written once under a folder named by the hash,
    compiled once per process (templates are read from there later, so the folder stays)."""
    with _lock:
        if digest in _policies:
            return _policies[digest]
    folder = cache_root() / digest / "p" / pack_id
    if not (folder / POLICY_FILE).is_file():
        files = unbundle(blob_loader())
        if content_hash(files) != digest:
            raise RegisterError(f"stored pack {pack_id} {digest[:12]} does not match its hash", code="pack-corrupt")
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=_ensure(cache_root())))
        for name, data in files.items():
            target = staging / "p" / pack_id / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        final = cache_root() / digest
        try:
            os.rename(staging, final)
        except OSError:
            shutil.rmtree(staging, ignore_errors=True)  # another process wrote it first: same hash, same files
    policy = load_policy(folder)
    with _lock:
        _policies[digest] = policy
    return policy


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path
