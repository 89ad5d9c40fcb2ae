"""Stage 1, load: find a pack, read policy.yaml and its includes, merge them with positions."""

from __future__ import annotations

import glob
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .bundled import data_dir
from .errors import Diagnostic, Location, PolicyError
from .source import SourceMap, read_document

POLICY_FILE = "policy.yaml"
LIST_SECTIONS = ("rules", "timers", "routes", "duties", "tables", "authority")
SINGLE_SECTIONS = ("penalties", "amounts")
MAP_SECTIONS = ("facts", "findings", "roles", "forms", "calendars", "clauses")


@dataclass
class RawPack:
    """A pack as read from disk: merged data, where each value came from, and the file texts."""

    root: Path
    data: dict[str, Any]
    smap: SourceMap
    files: list[str] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    # For packs that extend another: (section, id) of the entries taken unchanged from the base, and the
    # enum facts the child redeclares with more values (fact, added values).
    inherited: set[tuple[str, str]] = field(default_factory=set)
    extended_enums: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    # facts and findings overlays removed (kind, name, where) and the overlays' own files (engine/removals.py)
    removals: list[tuple[str, str, Location]] = field(default_factory=list)
    own_files: set[str] = field(default_factory=set)


def bundled_root() -> Path:
    """The folder holding the bundled packs (inside the installed package or the source tree)."""
    return data_dir("policies")


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


def load_pack(ref: str | Path, _chain: tuple[Path, ...] = ()) -> RawPack:
    """Read a pack and the pack it extends; problems are collected in RawPack.diagnostics, never raised."""
    pack = _load_one(resolve_pack(ref))
    base_ref = pack.data.get("extends")
    if not isinstance(base_ref, str):
        return pack
    where = pack.smap.location(("extends",), default_file=pack.files[0])
    if Path(base_ref).is_absolute() or base_ref.startswith("~"):
        message = f"extends '{base_ref}': name a bundled pack, or a pack folder by a path relative to this pack"
        pack.diagnostics.append(Diagnostic(where, "extends-outside", message))
        return pack
    local = (pack.root / base_ref).resolve()
    try:
        base_root = resolve_pack(local if (local / POLICY_FILE).is_file() else base_ref)
    except PolicyError as exc:
        message = exc.diagnostics[0].message if exc.diagnostics else str(exc)
        pack.diagnostics.append(Diagnostic(where, "pack-not-found", message))
        return pack
    chain = _chain + (pack.root.resolve(),)
    if base_root.resolve() in chain:
        names = " → ".join(p.name for p in chain + (base_root.resolve(),))
        pack.diagnostics.append(Diagnostic(where, "extends-cycle", f"packs extend each other: {names}"))
        return pack
    return merge_packs(load_pack(base_root, chain), pack)


def _load_one(root: Path) -> RawPack:
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
    inside = root.resolve()
    for index, pattern in enumerate(includes):
        if not isinstance(pattern, str):
            continue
        where = smap.location(("include", index))
        if Path(pattern).is_absolute() or ".." in Path(pattern).parts or pattern.startswith("~"):
            message = f"include '{pattern}' must be a path inside the pack folder (no absolute paths, no '..')"
            pack.diagnostics.append(Diagnostic(where, "include-outside", message))
            continue
        matches = []
        for match in sorted(glob.glob(str(root / pattern))):
            if not Path(match).resolve().is_relative_to(inside):
                # A link leading out of the pack: refused unread, so nothing of that file is printed.
                message = f"include '{pattern}' leads outside the pack folder ({_display(Path(match))} is a link)"
                pack.diagnostics.append(Diagnostic(where, "include-outside", message))
                continue
            matches.append(match)
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


ID_LISTS = ("rules", "timers", "routes", "duties", "tables", "authority")
INHERIT_SKIP = ("extends", "remove", "include")


def merge_packs(base: RawPack, child: RawPack) -> RawPack:
    """The effective pack: the child's entries replace the base's by id (rules, timers, ...) or by
    name (facts, findings, roles, forms, calendars); `remove:` drops base entries; other sections
    and scalars come from the child when it gives them. Positions keep pointing at their own file."""
    out = RawPack(child.root, {}, SourceMap(), child.files + base.files, base.diagnostics + child.diagnostics)
    removals = child.data.get("remove") if isinstance(child.data.get("remove"), dict) else {}
    _check_removals(base, child, removals, out)
    for key in list(dict.fromkeys([*base.data, *child.data])):
        if key in INHERIT_SKIP:
            continue
        drop = set(removals.get(key) or []) if isinstance(removals.get(key), list) else set()
        b, c = base.data.get(key), child.data.get(key)
        if key in ID_LISTS and isinstance(b, list) and isinstance(c, list | type(None)):
            out.data[key] = _merge_list(key, base, child, b, c or [], drop, out.smap)
        elif key in MAP_SECTIONS and isinstance(b, dict) and isinstance(c, dict | type(None)):
            merged: dict[str, Any] = {}
            for name, value in b.items():
                if name not in drop and name not in (c or {}):
                    merged[name] = value
                    _copy(base.smap, (key, name), out.smap, (key, name))
            for name, value in (c or {}).items():
                inherited = b.get(name) if name not in drop else None
                if key == "calendars" and isinstance(inherited, dict) and isinstance(value, dict):
                    merged[name] = _merge_calendar(inherited, value, (key, name), base.smap, child.smap, out.smap)
                    continue
                merged[name] = value
                _copy(child.smap, (key, name), out.smap, (key, name))
            out.data[key] = merged
        else:
            source = child if key in child.data else base
            out.data[key] = source.data[key]
            _copy(source.smap, (key,), out.smap, (key,))
        top = child if key in child.data else base
        if (key,) in top.smap.values:
            out.smap.values[(key,)] = top.smap.values[(key,)]
            if (key,) in top.smap.keys:
                out.smap.keys[(key,)] = top.smap.keys[(key,)]
    out.data["extends"] = child.data.get("extends")
    for key in ID_LISTS:
        child_ids = {i.get("id") for i in child.data.get(key) or [] if isinstance(i, dict)}
        for item in out.data.get(key) or []:
            if isinstance(item, dict) and isinstance(item.get("id"), str) and item["id"] not in child_ids:
                out.inherited.add((key, item["id"]))
    out.inherited |= base.inherited
    base_facts, child_facts = base.data.get("facts") or {}, child.data.get("facts") or {}
    for name, spec in child_facts.items() if isinstance(child_facts, dict) else ():
        old = base_facts.get(name) if isinstance(base_facts, dict) else None
        old_values = _enum_values(old)
        added = tuple(v for v in _enum_values(spec) if v not in old_values)
        if old_values and added:
            out.extended_enums.append((name, added))
    from .removals import removals_of

    out.removals = base.removals + removals_of(
        child.data, lambda p: child.smap.location(p, default_file=child.files[0])
    )
    out.own_files = set(child.own_files or child.files)
    return out


def _enum_values(spec: Any) -> list[str]:
    values = spec.get("values") if isinstance(spec, dict) and spec.get("type") == "enum" else None
    return [str(v) for v in values] if isinstance(values, dict | list) else []


CALENDAR_ADDITIVE = ("closures", "extra_workdays")


def _merge_calendar(
    b: dict[str, Any], c: dict[str, Any], at: tuple[object, ...], bmap: SourceMap, cmap: SourceMap, out: SourceMap
) -> dict[str, Any]:
    """A calendar the child names again refines the inherited one: `years` merge by year (the child's
    table for a year replaces the base's), `closures` and `extra_workdays` are added to, any other field
    the child gives replaces the base's — so a company pack adds a year without repeating `week`."""
    merged = dict(b)
    _copy(bmap, at, out, at)
    for field_name, value in c.items():
        here = at + (field_name,)
        inherited = b.get(field_name)
        if field_name == "years" and isinstance(inherited, dict) and isinstance(value, dict):
            merged[field_name] = {**inherited, **value}
            for year in value:
                _copy(cmap, here + (year,), out, here + (year,))
        elif field_name in CALENDAR_ADDITIVE and isinstance(inherited, list) and isinstance(value, list):
            extra = [day for day in value if day not in inherited]
            merged[field_name] = inherited + extra
            for j, day in enumerate(value):
                if day in extra:
                    _copy(cmap, here + (j,), out, here + (len(inherited) + extra.index(day),))
        else:
            merged[field_name] = value
            _copy(cmap, here, out, here)
        if here in cmap.values:
            out.values[here] = cmap.values[here]
        if here in cmap.keys:
            out.keys[here] = cmap.keys[here]
    return merged


def _merge_list(key, base, child, b, c, drop, smap) -> list[Any]:
    items: list[Any] = []
    child_ids = {item.get("id"): j for j, item in enumerate(c) if isinstance(item, dict)}
    used: set[int] = set()
    for i, item in enumerate(b):
        iid = item.get("id") if isinstance(item, dict) else None
        if iid in drop:
            continue
        if iid in child_ids:
            j = child_ids[iid]
            used.add(j)
            _copy(child.smap, (key, j), smap, (key, len(items)))
            items.append(c[j])
        else:
            _copy(base.smap, (key, i), smap, (key, len(items)))
            items.append(item)
    for j, item in enumerate(c):
        if j not in used:
            _copy(child.smap, (key, j), smap, (key, len(items)))
            items.append(item)
    return items


def _copy(src: SourceMap, src_prefix: tuple[object, ...], dst: SourceMap, dst_prefix: tuple[object, ...]) -> None:
    n = len(src_prefix)
    for p, v in src.values.items():
        if p[:n] == src_prefix:
            dst.values[dst_prefix + p[n:]] = v
    for p, v in src.keys.items():
        if p[:n] == src_prefix:
            dst.keys[dst_prefix + p[n:]] = v


def _check_removals(base: RawPack, child: RawPack, removals: dict[str, Any], out: RawPack) -> None:
    for key, names in removals.items():
        path = ("remove", key)
        if key not in ID_LISTS + MAP_SECTIONS:
            allowed = ", ".join(ID_LISTS + MAP_SECTIONS)
            out.diagnostics.append(
                Diagnostic(
                    child.smap.location(path, key=True), "schema", f"cannot remove from '{key}' (only {allowed})"
                )
            )
            continue
        if not isinstance(names, list):
            continue
        present = base.data.get(key)
        ids = {i.get("id") for i in present if isinstance(i, dict)} if isinstance(present, list) else set(present or {})
        for i, name in enumerate(names):
            if name not in ids:
                from .errors import did_you_mean

                hint = did_you_mean(str(name), [str(x) for x in ids])
                out.diagnostics.append(
                    Diagnostic(
                        child.smap.location(path + (i,)),
                        "dangling-ref",
                        f"the base pack has no {key} '{name}' to remove{hint}",
                    )
                )


def origins(pack: RawPack) -> list[tuple[str, str, Location]]:
    """Where each effective entry of a pack came from: (section, id or name, location)."""
    out: list[tuple[str, str, Location]] = []
    for key, value in pack.data.items():
        if key in INHERIT_SKIP or value is None:
            continue
        if isinstance(value, list):
            for i, item in enumerate(value):
                name = item.get("id", i) if isinstance(item, dict) else i
                out.append((key, str(name), pack.smap.location((key, i))))
        elif isinstance(value, dict) and key in MAP_SECTIONS:
            for name in value:
                out.append((key, str(name), pack.smap.location((key, name), key=True)))
        else:
            out.append((key, "", pack.smap.location((key,), key=True)))
    return out
