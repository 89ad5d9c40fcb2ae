"""Safe YAML/JSON loading that keeps the source position of every key and value."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from .errors import Diagnostic, Location, json_path

PathKey = tuple[object, ...]

_BOOL = "tag:yaml.org,2002:bool"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_NULL = "tag:yaml.org,2002:null"
_STR = "tag:yaml.org,2002:str"


@dataclass
class SourceMap:
    """Positions of values and keys by path; a value entry is (file, line, column, scalar style, end line)."""

    values: dict[PathKey, tuple[str, int, int, str | None, int]] = field(default_factory=dict)
    keys: dict[PathKey, tuple[str, int, int]] = field(default_factory=dict)

    def location(self, path: PathKey, *, key: bool = False, default_file: str = "") -> Location:
        """Location of the value at `path` (or of its key), falling back to the nearest parent."""
        probe = tuple(path)
        if key and probe in self.keys:
            file, line, col = self.keys[probe]
            return Location(file, line, col, json_path(path))
        while True:
            if probe in self.values:
                file, line, col = self.values[probe][:3]
                return Location(file, line, col, json_path(path))
            if not probe:
                return Location(default_file, 1, 1, json_path(path))
            probe = probe[:-1]

    def style(self, path: PathKey) -> str | None:
        entry = self.values.get(tuple(path))
        return entry[3] if entry else None

    def end_line(self, path: PathKey) -> int:
        entry = self.values.get(tuple(path))
        return entry[4] if entry else 0


class _Builder:
    def __init__(self, filename: str):
        self.filename = filename
        self.smap = SourceMap()
        self.errors: list[Diagnostic] = []
        self._scalar = yaml.constructor.SafeConstructor()

    def _pos(self, mark: yaml.Mark) -> tuple[str, int, int]:
        return (self.filename, mark.line + 1, mark.column + 1)

    def build(self, node: yaml.Node, path: PathKey) -> Any:
        file, line, col = self._pos(node.start_mark)
        style = getattr(node, "style", None)
        self.smap.values[path] = (file, line, col, style, node.end_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            merges: list[yaml.Node] = []
            for knode, vnode in node.value:
                if knode.tag == "tag:yaml.org,2002:merge":
                    merges.append(vnode)
                    continue
                key = self._scalar_value(knode) if isinstance(knode, yaml.ScalarNode) else None
                if not isinstance(key, str | int | bool) or key is None:
                    self.errors.append(
                        Diagnostic(
                            Location(*self._pos(knode.start_mark), json_path(path)),
                            "yaml-syntax",
                            "mapping keys must be plain strings",
                        )
                    )
                    continue
                key = str(key) if not isinstance(key, str) else key
                if key in out:
                    self.errors.append(
                        Diagnostic(
                            Location(*self._pos(knode.start_mark), json_path(path + (key,))),
                            "duplicate-key",
                            f"duplicate key '{key}' (first at line {self.smap.keys[path + (key,)][1]})",
                        )
                    )
                    continue
                self.smap.keys[path + (key,)] = self._pos(knode.start_mark)
                out[key] = self.build(vnode, path + (key,))
            for vnode in merges:
                self._merge(vnode, path, out)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, path + (i,)) for i, item in enumerate(node.value)]
        return self._scalar_value(node)

    def _merge(self, vnode: yaml.Node, path: PathKey, out: dict[Any, Any]) -> None:
        """`<<: *anchor` (or a list of them): keys written in the mapping itself win."""
        sources = vnode.value if isinstance(vnode, yaml.SequenceNode) else [vnode]
        for src in sources:
            if not isinstance(src, yaml.MappingNode):
                where = Location(*self._pos(src.start_mark), json_path(path))
                self.errors.append(
                    Diagnostic(where, "yaml-syntax", "a merge (<<) needs a mapping or a list of mappings")
                )
                continue
            sub = _Builder(self.filename)
            value = sub.build(src, path)
            self.errors.extend(sub.errors)
            for key, item in value.items():
                if key in out:
                    continue
                out[key] = item
                n = len(path) + 1
                for p, v in sub.smap.values.items():
                    if p[:n] == path + (key,):
                        self.smap.values[p] = v
                for p, v in sub.smap.keys.items():
                    if p[:n] == path + (key,):
                        self.smap.keys[p] = v

    def _scalar_value(self, node: yaml.ScalarNode) -> Any:
        tag = node.tag
        if tag == _FLOAT:
            # Decimal from the source text: no float ever touches an amount.
            text = node.value.replace("_", "")
            try:
                value = Decimal(text)
            except InvalidOperation:
                return float(self._scalar.construct_yaml_float(node))
            return value  # NaN and infinities stay Decimal: the case check refuses them by name
        if tag in (_BOOL, _INT, _NULL):
            return self._scalar.construct_object(node)
        # Timestamps, binary and every other tag stay as their text: JSON and YAML cases then read alike.
        return node.value


def parse_yaml(text: str, filename: str) -> tuple[Any, SourceMap, list[Diagnostic]]:
    """Parse one YAML (or JSON) document; returns (data, source map, diagnostics)."""
    builder = _Builder(filename)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or exc.context or "invalid YAML"
        if exc.context and exc.problem:
            where = ""
            if exc.context_mark and exc.problem_mark and exc.context_mark.line != exc.problem_mark.line:
                where = f" that starts at {exc.context_mark.line + 1}:{exc.context_mark.column + 1}"
            problem = f"{exc.problem} ({exc.context}{where})"
        return None, builder.smap, [Diagnostic(Location(filename, line, col), "yaml-syntax", problem)]
    except yaml.YAMLError as exc:
        return None, builder.smap, [Diagnostic(Location(filename, 1, 1), "yaml-syntax", str(exc))]
    if node is None:
        return None, builder.smap, []
    data = builder.build(node, ())
    return data, builder.smap, builder.errors


def load_json(text: str) -> Any:
    """JSON with exact decimals; NaN and Infinity are not JSON numbers and are refused."""
    return json.loads(text, parse_float=Decimal, parse_constant=_no_constant)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def parse_json(text: str, filename: str) -> tuple[Any, SourceMap, list[Diagnostic]]:
    """Parse JSON with json itself; positions come from the YAML composer, which reads JSON too."""
    try:
        data = load_json(text)
    except json.JSONDecodeError as exc:
        return None, SourceMap(), [Diagnostic(Location(filename, exc.lineno, exc.colno), "json-syntax", exc.msg)]
    except ValueError as exc:
        return None, SourceMap(), [Diagnostic(Location(filename, 1, 1), "json-syntax", str(exc))]
    _, smap, diags = parse_yaml(text.replace("\t", " "), filename)
    # A few valid JSON texts are not YAML 1.1: then the data stands, only the positions are lost.
    return data, (SourceMap() if diags else smap), []


def read_document(path: Path, display: str | None = None) -> tuple[Any, SourceMap, list[Diagnostic]]:
    """Read a YAML or JSON file; a missing or unreadable file is a diagnostic, not an exception."""
    name = display or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, SourceMap(), [Diagnostic(Location(name, 0, 0), "file-not-found", "no such file")]
    except IsADirectoryError:
        return None, SourceMap(), [Diagnostic(Location(name, 0, 0), "file-not-found", "is a directory, not a file")]
    except UnicodeDecodeError as exc:
        return None, SourceMap(), [Diagnostic(Location(name, 1, 1), "encoding", f"not UTF-8 text: {exc.reason}")]
    except OSError as exc:
        return None, SourceMap(), [Diagnostic(Location(name, 0, 0), "file-unreadable", exc.strerror or str(exc))]
    if path.suffix.lower() == ".json":
        return parse_json(text, name)
    return parse_yaml(text, name)
