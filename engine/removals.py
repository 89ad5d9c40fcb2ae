"""`remove:` of a fact or finding in an overlay: one error at the overlay's own entry listing every
inherited item that still reads it, in place of errors located in base files the overlay cannot edit."""

from __future__ import annotations

import re
from typing import Any

from .errors import Diagnostic, Location

# remove: sections whose names expressions read
READ_SECTIONS = {"facts": "fact", "findings": "finding"}
_PATH = re.compile(r"^\$\.(?P<section>[a-z_]+)(?:\[(?P<index>\d+)\])?")
_FORM = re.compile(r'^\$\["\$form"\]\.(?P<form>[^.\[]+)')
ID_LISTS = ("rules", "timers", "routes", "duties", "tables", "authority")


def removals_of(child_data: dict[str, Any], location) -> list[tuple[str, str, Location]]:
    """(kind, name, where) for each fact or finding the overlay removes."""
    raw = child_data.get("remove")
    out: list[tuple[str, str, Location]] = []
    if not isinstance(raw, dict):
        return out
    for section, kind in READ_SECTIONS.items():
        names = raw.get(section)
        for i, name in enumerate(names if isinstance(names, list) else []):
            if isinstance(name, str):
                out.append((kind, name, location(("remove", section, i))))
    return out


def summarise(
    diags: list[Diagnostic], removals: list[tuple[str, str, Location]], own_files: set[str], data: dict[str, Any]
) -> list[Diagnostic]:
    """The diagnostics with each removed name's unknown-name errors outside the overlay's own files
    replaced by one error at the overlay's `remove:` entry that names the inherited items to remove too
    (rules that read the name and rules that set it alike)."""
    if not removals:
        return diags
    keep: list[Diagnostic] = []
    readers: dict[tuple[str, str], list[str]] = {}
    for d in diags:
        hit = next(
            (
                (kind, name)
                for kind, name, _ in removals
                if f"unknown {kind} '{name}'" in d.message and d.location.file not in own_files
            ),
            None,
        )
        if hit is None:
            keep.append(d)
            continue
        item = _item(d.location.path, data)
        if item not in readers.setdefault(hit, []):
            readers[hit].append(item)
    for kind, name, where in removals:
        items = readers.get((kind, name))
        if not items:
            continue
        by_section: dict[str, list[str]] = {}
        for item in items:
            section, _, ident = item.partition(" ")
            if section in ID_LISTS:
                by_section.setdefault(section, []).append(ident)
        hint = ", ".join(f"{s}: [{', '.join(ids)}]" for s, ids in by_section.items())
        others = [i for i in items if i.partition(" ")[0] not in ID_LISTS]
        advice = f"remove them too (remove: {{{hint}}})" if hint else ""
        if others:
            override = "override " + ", ".join(others) + " with your own"
            advice = f"{advice}; {override}" if advice else override
        keep.append(
            Diagnostic(
                where,
                "removed-still-read",
                f"removing {kind} '{name}' leaves {len(items)} inherited item{'s' if len(items) != 1 else ''} "
                f"that read it: {'; '.join(items)} — {advice}",
            )
        )
    return keep


def _item(path: str, data: dict[str, Any]) -> str:
    """An inherited item as the overlay names it: `rules penalise-upheld`, `penalties`, `form complaint-register`."""
    form = _FORM.match(path)
    if form:
        return f"form {form['form']}"
    match = _PATH.match(path)
    if not match:
        return path
    section = match["section"]
    if match["index"] is not None:
        items = data.get(section)
        index = int(match["index"])
        if isinstance(items, list) and index < len(items) and isinstance(items[index], dict):
            return f"{section} {items[index].get('id', index)}"
    return section
