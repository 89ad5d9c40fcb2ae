"""Safe YAML/JSON loading that keeps the source position of every key and value."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

from . import limits
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


class CoreResolver(yaml.resolver.Resolver):
    """YAML 1.2 core schema: `010` is not octal, `1:30` is not sexagesimal, `yes` is not a boolean.

    Plain scalars that YAML 1.1 reads as numbers but YAML 1.2 would not (leading zeros, sexagesimal,
    digit groups) get their own tag, so the builder refuses them with a hint instead of guessing."""

    yaml_implicit_resolvers: dict[str, list[tuple[str, re.Pattern[str]]]] = {}


class CoreLoader(
    yaml.reader.Reader,
    yaml.scanner.Scanner,
    yaml.parser.Parser,
    yaml.composer.Composer,
    yaml.constructor.SafeConstructor,
    CoreResolver,
):
    """The pure-Python loader with the core schema: it words syntax errors for the diagnostics."""

    def __init__(self, stream: str):
        yaml.reader.Reader.__init__(self, stream)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)
        yaml.composer.Composer.__init__(self)
        yaml.constructor.SafeConstructor.__init__(self)
        CoreResolver.__init__(self)


_LEGACY = "tag:zhidu,2024:yaml11-number"
for _tag, _regex, _first in (
    (
        _LEGACY,
        r"^[-+]?(?:0[0-9_]+|[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?|[0-9]+(?:_[0-9]*)+(?:\.[0-9_]*)?)$",
        "-+0123456789",
    ),
    (_BOOL, r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    (_NULL, r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    (_INT, r"^(?:[-+]?(?:0|[1-9][0-9]*)|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    (_FLOAT, r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?)$", "-+.0123456789"),
    (_FLOAT, r"^(?:[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$", "-+."),
    ("tag:yaml.org,2002:merge", r"^(?:<<)$", "<"),
):
    CoreResolver.add_implicit_resolver(_tag, re.compile(_regex), list(_first))

# Tags a pack or case may write explicitly (`!!str 010`); any other tag is refused where it stands.
_KNOWN_TAGS = frozenset(
    {_BOOL, _INT, _FLOAT, _NULL, _STR, "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq", "tag:yaml.org,2002:merge"}
)


class _TooBig(Exception):
    """Raised inside the builder when a limit is passed; the first problem is the one reported."""

    def __init__(self, diagnostic: Diagnostic):
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


class _Builder:
    def __init__(self, filename: str, aliases: bool = True, budget: list[int] | None = None):
        self.filename = filename
        self.smap = SourceMap()
        self.errors: list[Diagnostic] = []
        self._scalar = yaml.constructor.SafeConstructor()
        self.aliases = aliases
        # [values left, alias uses left], shared with the builders of merged mappings
        self.budget = budget if budget is not None else [limits.YAML_NODES.value, limits.YAML_ALIASES.value]
        self._seen: set[int] = set()
        self._open: set[int] = set()

    def _pos(self, mark: yaml.Mark) -> tuple[str, int, int]:
        return (self.filename, mark.line + 1, mark.column + 1)

    def _stop(self, node: yaml.Node, path: PathKey, code: str, message: str) -> _TooBig:
        return _TooBig(Diagnostic(Location(*self._pos(node.start_mark), json_path(path)), code, message))

    def _count(self, node: yaml.Node, path: PathKey) -> None:
        self.budget[0] -= 1
        if self.budget[0] < 0:
            raise self._stop(
                node,
                path,
                limits.YAML_NODES.code,
                f"more than {limits.YAML_NODES.value:,} values (aliases count in full)",
            )
        if len(path) > limits.YAML_DEPTH.value:
            raise self._stop(node, path, limits.YAML_DEPTH.code, f"nested deeper than {limits.YAML_DEPTH.value} levels")
        key = id(node)
        if key in self._seen:  # the composer gives every use of an alias the anchored node itself
            if not self.aliases:
                raise self._stop(node, path, "yaml-alias", "aliases (*name) are not allowed in a case: write the value")
            self.budget[1] -= 1
            if self.budget[1] < 0:
                raise self._stop(
                    node, path, limits.YAML_ALIASES.code, f"more than {limits.YAML_ALIASES.value:,} uses of aliases"
                )
        elif not isinstance(node, yaml.ScalarNode):
            self._seen.add(key)

    def build(self, node: yaml.Node, path: PathKey) -> Any:
        self._count(node, path)
        file, line, col = self._pos(node.start_mark)
        style = getattr(node, "style", None)
        self.smap.values[path] = (file, line, col, style, node.end_mark.line + 1)
        if node.tag not in _KNOWN_TAGS and not (node.tag == _LEGACY and isinstance(node, yaml.ScalarNode)):
            raise self._stop(node, path, "yaml-tag", f"the tag {node.tag!r} is not allowed (only plain YAML values)")
        if isinstance(node, yaml.ScalarNode):
            return self._scalar_value(node, path)
        if id(node) in self._open:
            raise self._stop(node, path, "yaml-alias", "an alias refers to the collection that contains it")
        self._open.add(id(node))
        try:
            return self._collection(node, path)
        finally:
            self._open.discard(id(node))

    def _collection(self, node: yaml.Node, path: PathKey) -> Any:
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            merges: list[yaml.Node] = []
            for knode, vnode in node.value:
                if knode.tag == "tag:yaml.org,2002:merge":
                    merges.append(vnode)
                    continue
                key = self._scalar_value(knode, path) if isinstance(knode, yaml.ScalarNode) else None
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
        return [self.build(item, path + (i,)) for i, item in enumerate(node.value)]

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
            if not self.aliases:
                raise self._stop(src, path, "yaml-alias", "merges (<<) are not allowed in a case: write the values")
            sub = _Builder(self.filename, self.aliases, self.budget)
            sub._open, sub._seen = self._open, self._seen
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

    def _scalar_value(self, node: yaml.ScalarNode, path: PathKey) -> Any:
        tag = node.tag
        if tag == _LEGACY:
            text = node.value
            if ":" in text:
                reading = "a number in base 60, YAML 1.2 as text"
            elif "_" in text:
                reading = "a number with digit groups, YAML 1.2 as text"
            else:
                reading = f"octal, YAML 1.2 as {text.lstrip('+-').lstrip('0') or '0'}"
            raise self._stop(
                node,
                path,
                "yaml-number",
                f"{text} is ambiguous: YAML 1.1 reads it as {reading}; "
                f"quote it ('{text}') for text, or write the number without leading zeros or separators",
            )
        if tag in (_INT, _FLOAT) and sum(c.isdigit() for c in node.value) > limits.NUMBER_DIGITS.value:
            raise self._stop(
                node, path, limits.NUMBER_DIGITS.code, f"a number of more than {limits.NUMBER_DIGITS.value} digits"
            )
        try:
            if tag == _FLOAT:
                # Decimal from the source text: no float ever touches an amount.
                text = node.value.replace("_", "")
                try:
                    value = Decimal(text)  # NaN and infinities stay Decimal: the case check refuses them by name
                    if value.is_finite() and not _reasonable(value):
                        raise self._stop(node, path, limits.NUMBER_DIGITS.code, _FAR)
                    return value
                except InvalidOperation:
                    return float(self._scalar.construct_yaml_float(node))
            if tag == _INT:
                text = node.value.replace("_", "")
                if text.startswith(("0o", "0x")):
                    return int(text[2:], 8 if text[1] == "o" else 16)
                return int(text)
            if tag == _BOOL:
                return node.value.lower() == "true"
            if tag == _NULL:
                return None
        except ValueError as exc:
            raise self._stop(
                node, path, "yaml-syntax", f"{node.value!r} is not a valid {tag.rsplit(':', 1)[-1]}: {exc}"
            ) from None
        return node.value


class _TooDeep(Exception):
    def __init__(self, mark: yaml.Mark):
        super().__init__("too deep")
        self.mark = mark


def _compose_fast(text: str) -> yaml.Node | None:
    """Compose with libyaml's parser (C speed: a 5,000-row table is 3 MB of YAML) and an iterative
    composer that stops past the depth limit (libyaml's own composer recurses without a bound).
    Raises yaml.YAMLError for anything unusual; the caller then asks the Python loader, whose
    messages the diagnostics use."""
    from yaml.cyaml import CParser

    class _Parser(CParser, CoreResolver):  # type: ignore[misc, valid-type]
        def __init__(self, stream: str):
            CParser.__init__(self, stream)
            CoreResolver.__init__(self)

    parser = _Parser(text)
    try:
        if not isinstance(parser.get_event(), yaml.StreamStartEvent):
            raise yaml.YAMLError("no stream")
        event = parser.get_event()
        if isinstance(event, yaml.StreamEndEvent):
            return None
        anchors: dict[str, yaml.Node] = {}
        frames: list[list[Any]] = []  # [collection node, pending mapping key or None]
        root: yaml.Node | None = None
        while True:
            event = parser.get_event()
            if isinstance(event, yaml.DocumentEndEvent):
                break
            if isinstance(event, yaml.SequenceEndEvent | yaml.MappingEndEvent):
                done = frames.pop()
                done[0].end_mark = event.end_mark
                continue
            if isinstance(event, yaml.AliasEvent):
                node = anchors[event.anchor]  # KeyError: an undefined alias, worded by the Python loader
            elif isinstance(event, yaml.ScalarEvent):
                tag = event.tag
                if tag is None or tag == "!":
                    tag = parser.resolve(yaml.ScalarNode, event.value, event.implicit)
                # libyaml marks a plain scalar '' where PyYAML says None: keep PyYAML's word.
                node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, style=event.style or None)
            elif isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent):
                kind = yaml.SequenceNode if isinstance(event, yaml.SequenceStartEvent) else yaml.MappingNode
                tag = event.tag
                if tag is None or tag == "!":
                    tag = parser.resolve(kind, None, event.implicit)
                node = kind(tag, [], event.start_mark, None, flow_style=event.flow_style)
            else:
                raise yaml.YAMLError(f"unexpected {type(event).__name__}")
            anchor = getattr(event, "anchor", None)
            if anchor is not None and not isinstance(event, yaml.AliasEvent):
                if anchor in anchors:
                    raise yaml.YAMLError("duplicate anchor")
                anchors[anchor] = node
            if not frames:
                root = node
            else:
                frame = frames[-1]
                if isinstance(frame[0], yaml.SequenceNode):
                    frame[0].value.append(node)
                elif frame[1] is None:
                    frame[1] = node
                else:
                    frame[0].value.append((frame[1], node))
                    frame[1] = None
            if isinstance(event, yaml.SequenceStartEvent | yaml.MappingStartEvent):
                frames.append([node, None])
                if len(frames) > limits.YAML_DEPTH.value:
                    raise _TooDeep(event.start_mark)
        if not isinstance(parser.get_event(), yaml.StreamEndEvent):
            raise yaml.YAMLError("more than one document")
        return root
    finally:
        parser.dispose()


def parse_yaml(text: str, filename: str, *, aliases: bool = True) -> tuple[Any, SourceMap, list[Diagnostic]]:
    """Parse one YAML (or JSON) document under the YAML 1.2 core schema; returns (data, source map,
    diagnostics). `aliases=False` (cases) refuses anchors' uses; every document is bounded in size."""
    builder = _Builder(filename, aliases)
    try:
        try:
            node = _compose_fast(text)
        except _TooDeep as deep:
            message = f"nested deeper than {limits.YAML_DEPTH.value} levels"
            where = Location(filename, deep.mark.line + 1, deep.mark.column + 1)
            return None, builder.smap, [Diagnostic(where, limits.YAML_DEPTH.code, message)]
        except (yaml.YAMLError, KeyError, ImportError):
            node = yaml.compose(text, Loader=CoreLoader)  # the same text again, for the wording of the error
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
    except RecursionError:
        message = f"nested deeper than {limits.YAML_DEPTH.value} levels"
        return None, builder.smap, [Diagnostic(Location(filename, 1, 1), limits.YAML_DEPTH.code, message)]
    if node is None:
        return None, builder.smap, []
    try:
        data = builder.build(node, ())
    except _TooBig as exc:
        return None, builder.smap, [exc.diagnostic]
    return data, builder.smap, builder.errors


class InputLimitError(ValueError):
    """A JSON text passes a limit (digits of a number, nesting, a lone surrogate): its code names which."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def _int(text: str) -> int:
    if len(text) - text.startswith("-") > limits.NUMBER_DIGITS.value:
        raise InputLimitError(limits.NUMBER_DIGITS.code, f"a number of more than {limits.NUMBER_DIGITS.value} digits")
    return int(text)


def _decimal(text: str) -> Decimal:
    if sum(c.isdigit() for c in text) > limits.NUMBER_DIGITS.value:
        raise InputLimitError(limits.NUMBER_DIGITS.code, f"a number of more than {limits.NUMBER_DIGITS.value} digits")
    value = Decimal(text)
    if not _reasonable(value):
        raise InputLimitError(limits.NUMBER_DIGITS.code, _FAR)
    return value


_FAR = f"a number beyond 10^{limits.NUMBER_DIGITS.value} or below 10^-{limits.NUMBER_DIGITS.value} (such as 1e999999)"


def _reasonable(value: Decimal) -> bool:
    """Whether a finite decimal's exponent stays where arithmetic on it cannot overflow (1e99999999 does)."""
    return value.is_zero() or -limits.NUMBER_DIGITS.value <= value.adjusted() <= limits.NUMBER_DIGITS.value


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def load_json(text: str) -> Any:
    """JSON with exact decimals. Refused: NaN and Infinity (not JSON numbers), numbers of more digits
    than the limit, nesting past the YAML depth limit, and lone surrogates (not text: they cannot be
    written out as UTF-8). A leading byte-order mark is skipped, as in YAML."""
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        data = json.loads(text, parse_float=_decimal, parse_int=_int, parse_constant=_no_constant)
    except RecursionError:
        raise InputLimitError(limits.YAML_DEPTH.code, f"nested deeper than {limits.YAML_DEPTH.value} levels") from None
    if _SURROGATE_ESCAPE.search(text):
        _refuse_surrogates(data)
    return data


def _refuse_surrogates(value: Any) -> None:
    """json joins escaped surrogate pairs; a surrogate left in a string stands alone."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if any("\ud800" <= ch <= "\udfff" for ch in item):
                raise InputLimitError("json-syntax", "a string holds a lone surrogate (\\ud800-\\udfff): not text")
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def parse_json(text: str, filename: str, *, aliases: bool = True) -> tuple[Any, SourceMap, list[Diagnostic]]:
    """Parse JSON with json itself; positions come from the YAML composer, which reads JSON too."""
    try:
        data = load_json(text)
    except json.JSONDecodeError as exc:
        return None, SourceMap(), [Diagnostic(Location(filename, exc.lineno, exc.colno), "json-syntax", exc.msg)]
    except InputLimitError as exc:
        return None, SourceMap(), [Diagnostic(Location(filename, 1, 1), exc.code, str(exc))]
    except ValueError as exc:
        return None, SourceMap(), [Diagnostic(Location(filename, 1, 1), "json-syntax", str(exc))]
    _, smap, diags = parse_yaml(text.lstrip("\ufeff").replace("\t", " "), filename, aliases=aliases)
    # A few valid JSON texts are not YAML 1.1: then the data stands, only the positions are lost.
    return data, (SourceMap() if diags else smap), []


def read_text(path: Path, display: str, max_bytes: int) -> tuple[str | None, list[Diagnostic]]:
    """A file's UTF-8 text, reading at most `max_bytes` (+1 to tell it is larger); problems as diagnostics."""
    name = display
    try:
        with path.open("rb") as handle:
            raw = handle.read(max_bytes + 1)
    except FileNotFoundError:
        return None, [Diagnostic(Location(name, 0, 0), "file-not-found", "no such file")]
    except IsADirectoryError:
        return None, [Diagnostic(Location(name, 0, 0), "file-not-found", "is a directory, not a file")]
    except OSError as exc:
        return None, [Diagnostic(Location(name, 0, 0), "file-unreadable", exc.strerror or str(exc))]
    if len(raw) > max_bytes:
        return None, [Diagnostic(Location(name, 0, 0), limits.FILE_BYTES.code, _too_large(max_bytes))]
    try:
        return raw.decode("utf-8"), []
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        return None, [Diagnostic(Location(name, line, column), "encoding", f"not UTF-8 text: {exc.reason}")]


def _too_large(max_bytes: int) -> str:
    env = limits.FILE_BYTES.env
    return f"larger than {max_bytes:,} bytes (the limit; set {env} to raise it)"


def read_document(
    path: Path, display: str | None = None, *, case: bool = False
) -> tuple[Any, SourceMap, list[Diagnostic]]:
    """Read a YAML or JSON file; a missing, unreadable or too large file is a diagnostic, not an exception.
    A case (`case=True`) has its own, smaller size limit and may not use aliases."""
    name = display or str(path)
    max_bytes = limits.CASE_BYTES.current() if case else limits.FILE_BYTES.current()
    text, diags = read_text(path, name, max_bytes)
    if text is None:
        if case and diags and diags[0].code == limits.FILE_BYTES.code:
            message = f"larger than {max_bytes:,} bytes (the limit; set {limits.CASE_BYTES.env} to raise it)"
            diags = [Diagnostic(diags[0].location, limits.CASE_BYTES.code, message)]
        return None, SourceMap(), diags
    suffix = path.suffix.lower()

    def parse() -> tuple[Any, SourceMap, list[Diagnostic]]:
        if suffix == ".json":
            return parse_json(text, name, aliases=not case)
        return parse_yaml(text, name, aliases=not case)

    if case:
        return parse()
    # Pack files are read on every load: a parsed file is kept, keyed by its name and content.
    from . import pack_cache

    entry = pack_cache.key("document", name, suffix, text.encode("utf-8"))
    return pack_cache.cached("document", entry, parse)
