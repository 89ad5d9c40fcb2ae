"""Stage 1, load: find a pack, read policy.yaml and its includes, merge them with positions."""

from __future__ import annotations

import glob
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import Diagnostic, Location, PolicyError
from .source import SourceMap, read_document

POLICY_FILE = "policy.yaml"
LIST_SECTIONS = ("rules", "timers", "routes", "duties", "tables", "authority")
SINGLE_SECTIONS = ("penalties",)
MAP_SECTIONS = ("facts", "findings", "roles", "forms", "calendars")


@dataclass
class RawPack:
    """A pack as read from disk: merged data, where each value came from, and the file texts."""

    root: Path
    data: dict[str, Any]
    smap: SourceMap
    files: list[str] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)


def bundled_root() -> Path:
    """The folder holding the bundled packs (inside the installed package or the source tree)."""
    return Path(str(resources.files("policies")))


def bundled_packs() -> list[str]:
    root = bundled_root()
    return sorted(p.name for p in root.iterdir() if (p / POLICY_FILE).is_file())


def resolve_pack(ref: str | Path) -> Path:
    """A pack folder from a path (folder or policy.yaml) or the name of a bundled pack."""
    path = Path(ref)
    if path.is_file():
        return path.parent
    if path.is_dir():
        return path
    candidate = bundled_root() / str(ref)
    if isinstance(ref, str) and "/" not in ref and (candidate / POLICY_FILE).is_file():
        return candidate
    from .errors import did_you_mean

    hint = did_you_mean(str(ref), bundled_packs())
    raise PolicyError(
        [Diagnostic(Location(str(ref), 0, 0), "pack-not-found", f"no pack folder or bundled pack named '{ref}'{hint}")]
    )


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def load_pack(ref: str | Path) -> RawPack:
    """Read a pack; YAML problems are collected in RawPack.diagnostics, never raised midway."""
    root = resolve_pack(ref)
    main = root / POLICY_FILE
    main_name = _display(main)
    data, smap, diags = read_document(main, main_name)
    pack = RawPack(root, {}, SourceMap(), [main_name], list(diags))
    if data is None:
        if not diags:
            pack.diagnostics.append(Diagnostic(Location(main_name, 1, 1), "schema", "policy.yaml is empty"))
        return pack
    if not isinstance(data, dict):
        pack.diagnostics.append(Diagnostic(Location(main_name, 1, 1), "schema", "policy.yaml must be a mapping"))
        return pack
    pack.data, pack.smap = data, smap
    includes = data.get("include") or []
    if not isinstance(includes, list):
        return pack  # the schema check reports the wrong type
    for index, pattern in enumerate(includes):
        if not isinstance(pattern, str):
            continue
        matches = sorted(glob.glob(str(root / pattern)))
        if not matches:
            pack.diagnostics.append(
                Diagnostic(smap.location(("include", index)), "file-not-found", f"include '{pattern}' matches no file")
            )
        for match in matches:
            _merge_include(pack, Path(match))
    return pack


def _merge_include(pack: RawPack, path: Path) -> None:
    name = _display(path)
    data, smap, diags = read_document(path, name)
    pack.files.append(name)
    pack.diagnostics.extend(diags)
    if data is None:
        return
    if not isinstance(data, dict):
        pack.diagnostics.append(
            Diagnostic(Location(name, 1, 1), "schema", "an included file must be a mapping of sections")
        )
        return
    for key, value in data.items():
        kloc = smap.location((key,), key=True, default_file=name)
        if key in LIST_SECTIONS and isinstance(value, list):
            existing = pack.data.setdefault(key, [])
            if not isinstance(existing, list):
                continue
            offset = len(existing)
            existing.extend(value)
            for p, v in smap.values.items():
                if p[:1] == (key,) and len(p) > 1 and isinstance(p[1], int):
                    pack.smap.values[(key, p[1] + offset) + p[2:]] = v
            for p, v in smap.keys.items():
                if p[:1] == (key,) and len(p) > 1 and isinstance(p[1], int):
                    pack.smap.keys[(key, p[1] + offset) + p[2:]] = v
            pack.smap.values.setdefault((key,), smap.values[(key,)])
        elif key in SINGLE_SECTIONS and isinstance(value, dict):
            if key in pack.data:
                first = pack.smap.location((key,), key=True)
                pack.diagnostics.append(
                    Diagnostic(kloc, "duplicate-id", f"section '{key}' is already given at {first}")
                )
                continue
            pack.data[key] = value
            for p, v in smap.values.items():
                if p[:1] == (key,):
                    pack.smap.values[p] = v
            for p, v in smap.keys.items():
                if p[:1] == (key,):
                    pack.smap.keys[p] = v
        elif key in MAP_SECTIONS and isinstance(value, dict):
            existing = pack.data.setdefault(key, {})
            if not isinstance(existing, dict):
                continue
            pack.smap.values.setdefault((key,), smap.values[(key,)])
            for sub, subval in value.items():
                if sub in existing:
                    first = pack.smap.location((key, sub), key=True)
                    pack.diagnostics.append(
                        Diagnostic(
                            smap.location((key, sub), key=True, default_file=name),
                            "duplicate-id",
                            f"{key} '{sub}' is already declared at {first}",
                        )
                    )
                    continue
                existing[sub] = subval
                for p, v in smap.values.items():
                    if p[:2] == (key, sub):
                        pack.smap.values[p] = v
                for p, v in smap.keys.items():
                    if p[:2] == (key, sub):
                        pack.smap.keys[p] = v
        elif key in LIST_SECTIONS or key in MAP_SECTIONS or key in SINGLE_SECTIONS:
            shape = "a list" if key in LIST_SECTIONS else "a mapping"
            pack.diagnostics.append(Diagnostic(kloc, "schema", f"'{key}' must be {shape}"))
        else:
            allowed = ", ".join(LIST_SECTIONS + MAP_SECTIONS + SINGLE_SECTIONS)
            pack.diagnostics.append(
                Diagnostic(
                    kloc,
                    "include-section",
                    f"an included file may hold only {allowed}; '{key}' belongs in policy.yaml",
                )
            )
