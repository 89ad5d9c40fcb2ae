"""The packs a service process serves: loaded, compiled and described once, at start-up."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from ..compiler import load_policy
from ..errors import Diagnostic, Location
from ..loader import LIST_SECTIONS, RawPack, bundled_packs, bundled_root, load_pack
from ..policy import Policy
from .problems import Problem

# The sections a pack description lists; each entry keeps its id, label, clause and where it is written.
DESCRIBED = ("rules", "tables", "timers", "routes", "duties", "authority", "penalties", "forms")


@dataclass(frozen=True)
class Served:
    """One compiled pack and its description (computed once, answered many times)."""

    ref: str  # how the pack was named at start-up (bundled name or folder): what `publish` reads
    policy: Policy
    summary: dict[str, Any]
    description: dict[str, Any]


class Catalog:
    """Packs by id. Every pack is compiled when the worker starts: a broken pack stops the start, not a request."""

    def __init__(self, refs: Iterable[str] = ()) -> None:
        self._packs: dict[str, Served] = {}
        for ref in list(refs) or bundled_packs():
            policy = load_policy(ref)
            raw = load_pack(ref)
            summary = {
                "id": policy.id,
                "version": policy.version,
                "title": policy.title.zh,
                "title_en": policy.title.en,
                "timezone": str(policy.timezone),
                "effective_from": policy.effective_from.isoformat() if policy.effective_from else None,
            }
            self._packs[policy.id] = Served(ref, policy, summary, describe(policy, raw, summary))

    def __contains__(self, pack_id: str) -> bool:
        return pack_id in self._packs

    def ids(self) -> list[str]:
        return sorted(self._packs)

    def get(self, pack_id: str) -> Served:
        served = self._packs.get(pack_id)
        if served is None:
            from ..errors import did_you_mean

            hint = did_you_mean(pack_id, self._packs)
            raise Problem(
                404,
                "pack-not-found",
                f"this service has no pack '{pack_id}'{hint}",
                [Diagnostic(Location("path", 0, 0, "$.pack"), "pack-not-found", f"no pack '{pack_id}'{hint}")],
            )
        return served

    def policy(self, pack_id: str) -> Policy:
        return self.get(pack_id).policy


def describe(policy: Policy, raw: RawPack, summary: dict[str, Any]) -> dict[str, Any]:
    """Rules, tables, timers, routes, duties, authority, penalties and forms, each with its clause and location."""
    out: dict[str, Any] = dict(summary)
    out["roles"] = [{"id": k, "label": v.zh, "label_en": v.en} for k, v in policy.roles.items()]
    for section in DESCRIBED:
        value = raw.data.get(section)
        entries: list[dict[str, Any]] = []
        if section in LIST_SECTIONS and isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, dict):
                    entries.append(_entry(raw, (section, i), str(item.get("id", i)), item))
        elif section == "forms" and isinstance(value, dict):
            for name, item in value.items():
                entries.append(_entry(raw, (section, name), str(name), item if isinstance(item, dict) else {}))
        elif section == "penalties" and isinstance(value, dict):
            entries.append(_entry(raw, (section,), "penalties", value))
        out[section] = entries
    return out


def _entry(raw: RawPack, path: tuple[object, ...], name: str, item: dict[str, Any]) -> dict[str, Any]:
    label = item.get("label")
    zh, en = (label.get("zh"), label.get("en")) if isinstance(label, dict) else (label, None)
    loc = raw.smap.location(path)
    return {
        "id": name,
        "label": zh if isinstance(zh, str) else None,
        "label_en": en if isinstance(en, str) else None,
        "ref": item.get("ref") if isinstance(item.get("ref"), str) else None,
        "location": {"file": _shown(loc.file, raw.root), "line": loc.line, "column": loc.column, "path": loc.path},
        "definition": _plain(item),
    }


def _shown(file: str, root: Path) -> str:
    """A file named from the packs folder (<pack>/rules.yaml): never the server's absolute paths."""
    path = Path(file)
    if not path.is_absolute():
        path = (Path.cwd() / path).resolve()
    for base in (root.resolve().parent, bundled_root().resolve()):
        try:
            return str(path.relative_to(base))
        except ValueError:
            continue
    return path.name


def _plain(value: Any) -> Any:
    """The entry as JSON: money and numbers written with decimals stay exact as strings."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    return value
