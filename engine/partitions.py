"""Re-evaluating many cases on a cluster: the evaluator as a pure function over partitions of case dicts."""

# How it is used (docs/performance.md, "Beyond one machine"): a Dask bag or a Spark RDD of case dicts is
# mapped partition by partition with `evaluate_partition`; the pack travels to each worker once, as a
# `PackBundle` (its files' text, a few kilobytes), and is compiled there once per worker process and
# cached, because a compiled Policy holds closures that do not pickle. Nothing here imports Dask or
# Spark: `evaluate_bag` only calls the bag's own `map_partitions`.

from __future__ import annotations

import hashlib
import tempfile
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ZhiduError
from .loader import resolve_pack
from .policy import Policy

_PACK_SUFFIXES = (".yaml", ".yml", ".json", ".md", ".html", ".j2")


@dataclass(frozen=True)
class PackBundle:
    """A pack folder as data: relative path → text, and the folder's name. Pickles small; rebuilt on a worker."""

    name: str
    files: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, ref: str | Path) -> PackBundle:
        """Bundle a pack folder (or the name of a bundled pack). A pack that `extends:` a bundled pack by
        name works on any worker with zhidu installed; one that extends a folder by path needs that path there."""
        root = resolve_pack(ref)
        files = sorted(
            (str(p.relative_to(root)), p.read_text(encoding="utf-8"))
            for p in root.rglob("*")
            if p.is_file() and p.suffix in _PACK_SUFFIXES and "__pycache__" not in p.parts
        )
        return cls(root.name, tuple(files))

    @property
    def digest(self) -> str:
        h = hashlib.sha256(self.name.encode())
        for path, text in self.files:
            h.update(b"\0" + path.encode() + b"\0" + text.encode())
        return h.hexdigest()

    def load(self) -> Policy:
        """Write the files to a private temporary folder and compile them (once per process: see `policy_of`)."""
        from .compiler import load_policy

        # Kept for the life of the process (forms and templates are read from it later), removed at exit.
        holder = tempfile.TemporaryDirectory(prefix="zhidu-pack-")
        _FOLDERS.append(holder)
        folder = Path(holder.name) / self.name
        for path, text in self.files:
            target = folder / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
        return load_policy(folder)


_POLICIES: dict[str, Policy] = {}
_FOLDERS: list[tempfile.TemporaryDirectory[str]] = []
_LOCK = threading.Lock()


def policy_of(bundle: PackBundle) -> Policy:
    """The bundle's compiled policy, compiled at most once per process."""
    with _LOCK:
        policy = _POLICIES.get(bundle.digest)
        if policy is None:
            policy = _POLICIES[bundle.digest] = bundle.load()
        return policy


def evaluate_partition(
    cases: Iterable[dict[str, Any]], bundle: PackBundle, now: str | None = None, engine: str = "python"
) -> Iterator[dict[str, Any]]:
    """Decide each case of a partition: the decision dict, or `{"case_id", "error": {code, message}}` for a
    case that cannot be decided, so one bad case never fails the partition. `now` defaults to each case's own."""
    policy = policy_of(bundle)
    for case in cases:
        try:
            yield policy.evaluate(case, now, engine=engine).to_dict()
        except ZhiduError as exc:
            case_id = case.get("case_id") if isinstance(case, dict) else None
            yield {"case_id": case_id, "error": {"code": exc.code, "message": str(exc)}}


def evaluate_bag(bag: Any, pack: str | Path | PackBundle, now: str | None = None, engine: str = "python") -> Any:
    """A Dask bag of case dicts → a bag of decisions (or error records), computed partition by partition."""
    bundle = pack if isinstance(pack, PackBundle) else PackBundle.of(pack)
    return bag.map_partitions(lambda part: list(evaluate_partition(part, bundle, now, engine)))
