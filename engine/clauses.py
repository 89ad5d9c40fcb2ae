"""The regulation's own words: declared clauses, `ref` resolution, and what in a pack encodes a clause."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from .errors import Location, did_you_mean

if TYPE_CHECKING:
    from .compiler import _Compiler
    from .loader import RawPack

# A ref citing several clauses lists their ids with this separator: "通用规范 四1 / 服务质量投诉规程 3.3".
SEPARATOR = " / "


@dataclass(frozen=True)
class Clause:
    """One article of a regulation: where it is (title, article number) and its original words."""

    id: str
    title: str
    article: str
    text: str
    source: str | None = None
    note: str | None = None

    def to_dict(self) -> dict[str, str]:
        out = {"title": self.title, "article": self.article, "text": self.text}
        if self.source:
            out["source"] = self.source
        return out


@lru_cache(maxsize=4096)
def split_ref(ref: str) -> tuple[str, ...]:
    """The clause ids a `ref` cites, in order, each once."""
    return tuple(dict.fromkeys(p.strip() for p in ref.split(SEPARATOR) if p.strip()))


def iter_refs(data: Any, path: tuple[object, ...] = ()) -> Iterator[tuple[tuple[object, ...], str]]:
    """(path of the ref value, ref) for every `ref:` string in a pack, outside the clauses section."""
    if isinstance(data, dict):
        for key, value in data.items():
            if not path and key == "clauses":
                continue
            if key == "ref" and isinstance(value, str):
                yield path + (key,), value
            else:
                yield from iter_refs(value, path + (key,))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from iter_refs(value, path + (i,))


def compile_clauses(c: _Compiler) -> Mapping[str, Clause]:
    """The declared clauses. Once a pack (or the pack it extends) declares any, every ref must cite
    declared ones: an error unknown-clause with a did-you-mean otherwise."""
    raw = c.data.get("clauses")
    clauses: dict[str, Clause] = {}
    if isinstance(raw, dict):
        for cid, spec in raw.items():
            if not isinstance(spec, dict) or not c.schema_clean(("clauses", cid)):
                continue
            if SEPARATOR.strip() in cid:
                c.error(("clauses", cid), "schema", f"a clause id cannot contain '/': '{cid}'", key=True)
                continue
            clauses[cid] = Clause(
                cid, spec["title"], spec["article"], spec["text"], spec.get("source"), spec.get("note")
            )
    if not isinstance(raw, dict):
        return MappingProxyType(clauses)  # a pack without clauses cites free text (see policy-reference.md)
    for path, ref in iter_refs(c.data):
        for part in split_ref(ref):
            if part not in clauses:
                c.error(
                    path,
                    "unknown-clause",
                    f"'{part}' is not a declared clause{did_you_mean(part, clauses)} "
                    f"(declare it under clauses:; cite several as 'a{SEPARATOR}b')",
                )
    return MappingProxyType(clauses)


def _describe(data: dict[str, Any], path: tuple[object, ...]) -> str:
    """`rules[register-case]`, `penalties.economic`, `forms[complaint-register]`: an item by its id."""
    out = ""
    node: Any = data
    for depth, part in enumerate(path[:-1]):
        node = node[part] if isinstance(node, dict | list) else None
        if isinstance(part, int):
            ident = node.get("id") if isinstance(node, dict) else None
            out += f"[{ident if isinstance(ident, str) else part}]"
        elif depth == 1 and isinstance(data.get(path[0]), dict) and path[0] != "penalties":
            out += f"[{part}]"  # an entry of a map section (forms, facts, ...) by its name
        else:
            out += f".{part}" if out else str(part)
    return out


def encodings(raw: RawPack, clause_id: str) -> list[tuple[str, Location]]:
    """Everything in a pack whose `ref` cites `clause_id`: (item, where), in file order."""
    out: list[tuple[str, Location]] = []
    main = raw.files[0] if raw.files else "policy.yaml"
    for path, ref in iter_refs(raw.data):
        if clause_id in split_ref(ref):
            out.append((_describe(raw.data, path), raw.smap.location(path, default_file=main)))
    return sorted(out, key=lambda item: (item[1].file, item[1].line, item[1].column))


def refs_of(sections: dict[str, list[dict[str, Any]]]) -> list[str]:
    """The `ref`/`refs` strings of a decision's sections, where the decision puts them (no deep walk:
    this runs for every case)."""
    out: list[str] = []
    for item in sections.get("findings", ()) + sections.get("actions", ()) + sections.get("forms", ()):
        out.extend(item.get("refs", ()))
    for name in ("timers", "approvals", "trace"):
        out.extend(item["ref"] for item in sections.get(name, ()) if isinstance(item.get("ref"), str))
    for item in sections.get("approvals", ()):
        if isinstance(item.get("row_ref"), str):
            out.append(item["row_ref"])
    for person in sections.get("penalties", ()):
        out.append(person.get("ref", ""))
        out.extend(c.get("ref", "") for c in person.get("charges", ()))
    return out


def words(clauses: Mapping[str, Clause], refs: list[str]) -> dict[str, dict[str, str]]:
    """The declared words of each clause the refs cite, first mention first."""
    if not clauses:
        return {}
    out: dict[str, dict[str, str]] = {}
    for ref in dict.fromkeys(refs):
        for cid in split_ref(ref):
            if cid in clauses and cid not in out:
                out[cid] = clauses[cid].to_dict()
    return out


MAP_BEGIN = "<!-- clause-map: generated by `zhidu explain PACK --format md`; tests/test_clauses.py keeps it current -->"
MAP_END = "<!-- /clause-map -->"


def clause_map(clauses: Mapping[str, Clause], raw: RawPack) -> str:
    """A markdown table: each declared clause (in declaration order) and what encodes it."""
    lines = [MAP_BEGIN, "", "| clause | the regulation's words (start) | encoded by |", "|---|---|---|"]
    for cid, clause in clauses.items():
        uses = ", ".join(f"`{item}`" for item, _ in encodings(raw, cid)) or "— (not encoded)"
        words = clause.text.replace("\n", " ").replace("|", "｜")
        words = words if len(words) <= 28 else words[:28] + "…"
        lines.append(f"| {cid} | {words} | {uses} |")
    return "\n".join(lines + ["", MAP_END])
