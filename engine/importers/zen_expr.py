"""ZEN expressions and unary tests (GoRules JDM) parsed into a small tree and written in zhidu's language."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any


class ZenError(Exception):
    """A ZEN expression zhidu cannot express (or cannot read); the message says what."""


# -- tree ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Z:
    kind: str  # lit name dollar item unary binary cond call list object template range member
    value: Any = None
    args: tuple[Any, ...] = field(default_factory=tuple)


_TOKEN = re.compile(
    r"""\s*(?:
    (?P<num>\d[\d_]*(?:\.\d+)?)
  | (?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<tpl>`(?:[^`\\]|\\.)*`)
  | (?P<op>\.\.|==|!=|<=|>=|\?\?|&&|\|\||[-+*/%^<>!?:,()\[\]{}.\#$])
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
)""",
    re.X,
)
_KEYWORDS = {"and", "or", "not", "in", "true", "false", "null"}


def _tokens(text: str) -> list[tuple[str, str]]:
    if "$nodes" in text:
        raise ZenError("reading another node's output by name ($nodes) has no zhidu equivalent")
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(text):
        if text[i:].strip() == "":
            break
        m = _TOKEN.match(text, i)
        if not m or m.end() == i:
            raise ZenError(f"cannot read {text[i:].strip()[:20]!r}")
        kind = m.lastgroup or ""
        out.append((kind, m.group(kind)))
        i = m.end()
    out.append(("end", ""))
    return out


class _Parser:
    def __init__(self, text: str):
        self.toks = _tokens(text)
        self.i = 0

    def peek(self, value: str | None = None, kind: str | None = None) -> bool:
        k, v = self.toks[self.i]
        return (value is None or v == value) and (kind is None or k == kind) and k != "end"

    def take(self) -> tuple[str, str]:
        t = self.toks[self.i]
        self.i += 1
        return t

    def expect(self, value: str) -> None:
        if not self.peek(value):
            raise ZenError(f"expected {value!r}, found {self.toks[self.i][1]!r}")
        self.take()

    def done(self) -> None:
        if self.toks[self.i][0] != "end":
            raise ZenError(f"unexpected {self.toks[self.i][1]!r}")

    # expression := cond
    def expr(self) -> Z:
        test = self.coalesce_or()
        if self.peek("?"):
            self.take()
            then = self.expr()
            self.expect(":")
            return Z("cond", args=(test, then, self.expr()))
        return test

    def coalesce_or(self) -> Z:
        node = self.or_()
        while self.peek("??"):
            self.take()
            node = Z("binary", "??", (node, self.or_()))
        return node

    def or_(self) -> Z:
        node = self.and_()
        while self.peek("or") or self.peek("||"):
            self.take()
            node = Z("binary", "or", (node, self.and_()))
        return node

    def and_(self) -> Z:
        node = self.not_()
        while self.peek("and") or self.peek("&&"):
            self.take()
            node = Z("binary", "and", (node, self.not_()))
        return node

    def not_(self) -> Z:
        if self.peek("!") or self.peek("not", "name"):
            self.take()
            return Z("unary", "not", (self.not_(),))
        return self.compare()

    def compare(self) -> Z:
        node = self.sum_()
        for op in ("==", "!=", "<=", ">=", "<", ">"):
            if self.peek(op):
                self.take()
                return Z("binary", op, (node, self.sum_()))
        if self.peek("in"):
            self.take()
            return Z("binary", "in", (node, self.sum_()))
        if self.peek("not") and self.toks[self.i + 1][1] == "in":
            self.take()
            self.take()
            return Z("unary", "not", (Z("binary", "in", (node, self.sum_())),))
        return node

    def sum_(self) -> Z:
        node = self.product()
        while self.peek("+") or self.peek("-"):
            op = self.take()[1]
            node = Z("binary", op, (node, self.product()))
        return node

    def product(self) -> Z:
        node = self.unary()
        while self.peek("*") or self.peek("/") or self.peek("%"):
            op = self.take()[1]
            node = Z("binary", op, (node, self.unary()))
        if self.peek("^"):
            raise ZenError("'^' (power) has no zhidu equivalent")
        return node

    def unary(self) -> Z:
        if self.peek("-"):
            self.take()
            return Z("unary", "-", (self.unary(),))
        if self.peek("!"):
            self.take()
            return Z("unary", "not", (self.unary(),))
        return self.postfix(self.primary())

    def postfix(self, node: Z) -> Z:
        while True:
            if self.peek("."):
                self.take()
                kind, name = self.take()
                if kind != "name":
                    raise ZenError(f"expected a field name after '.', found {name!r}")
                node = Z("member", name, (node,))
            elif self.peek("["):
                raise ZenError("indexing with [...] has no zhidu equivalent")
            else:
                return node

    def primary(self) -> Z:
        kind, text = self.take()
        if kind == "num":
            raw = text.replace("_", "")
            return Z("lit", Decimal(raw) if "." in raw else int(raw))
        if kind == "str":
            return Z("lit", re.sub(r"\\(.)", r"\1", text[1:-1]))
        if kind == "tpl":
            return _template(text[1:-1])
        if kind == "name":
            if text in ("true", "false"):
                return Z("lit", text == "true")
            if text == "null":
                return Z("lit", None)
            if self.peek("("):
                self.take()
                args = []
                while not self.peek(")"):
                    args.append(self.expr())
                    if not self.peek(","):
                        break
                    self.take()
                self.expect(")")
                return Z("call", text, tuple(args))
            return Z("name", text)
        if text == "$":
            return Z("dollar")
        if text == "#":
            return Z("item")
        if text == "(":
            node = self.expr()
            self.expect(")")
            return node
        if text == "[":
            items = []
            while not self.peek("]"):
                items.append(self.expr())
                if self.peek(".."):
                    raise ZenError("a range outside a unary test")
                if not self.peek(","):
                    break
                self.take()
            self.expect("]")
            return Z("list", args=tuple(items))
        if text == "{":
            keys: list[Any] = []
            while not self.peek("}"):
                k, key = self.take()
                if k == "str":
                    key = key[1:-1]
                elif k != "name":
                    raise ZenError(f"expected an object key, found {key!r}")
                self.expect(":")
                keys.append((key, self.expr()))
                if not self.peek(","):
                    break
                self.take()
            self.expect("}")
            return Z("object", tuple(k for k, _ in keys), tuple(v for _, v in keys))
        raise ZenError(f"unexpected {text!r}" if text else "the expression ends too early")


def _template(body: str) -> Z:
    parts: list[Z] = []
    pos = 0
    for m in re.finditer(r"\$\{(.*?)\}", body):
        if m.start() > pos:
            parts.append(Z("lit", body[pos : m.start()]))
        parts.append(Z("call", "string", (parse_expression(m.group(1)),)))
        pos = m.end()
    if pos < len(body):
        parts.append(Z("lit", body[pos:]))
    return Z("template", args=tuple(parts) or (Z("lit", ""),))


def parse_expression(text: str) -> Z:
    p = _Parser(text)
    node = p.expr()
    p.done()
    return node


# -- unary tests --------------------------------------------------------------------------------


def parse_unary(text: str) -> Z | None:
    """A decision-table cell with a field: None for "any value", else a boolean tree over `$`."""
    text = text.strip()
    if not text or text == "-":
        return None
    parts = _split_top(text, ",")
    tests = [_unary_one(p.strip()) for p in parts]
    node = tests[0]
    for t in tests[1:]:
        node = Z("binary", "or", (node, t))
    return node


def _split_top(text: str, sep: str) -> list[str]:
    out, depth, quote, buf = [], 0, "", []
    for ch in text:
        if quote:
            buf.append(ch)
            if ch == quote:
                quote = ""
            continue
        if ch in "'\"`":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == sep and depth == 0:
            out.append("".join(buf))
            buf = []
            continue
        buf.append(ch)
    out.append("".join(buf))
    return out


_RANGE = re.compile(r"^([\[\(\]])(.+?)\.\.(.+?)([\]\)\[])$", re.S)


def _unary_one(text: str) -> Z:
    m = _RANGE.match(text)
    if m:
        low, high = parse_expression(m.group(2)), parse_expression(m.group(3))
        lo_op = ">=" if m.group(1) == "[" else ">"
        hi_op = "<=" if m.group(4) == "]" else "<"
        return Z("binary", "and", (Z("binary", lo_op, (Z("dollar"), low)), Z("binary", hi_op, (Z("dollar"), high))))
    # A leading operator applies to `$`, also after 'and'/'or': "> 7 and <= 21".
    text = re.sub(r"(^|\b(?:and|or)\s+)(==|!=|<=|>=|<|>)", r"\1$ \2", text)
    node = parse_expression(text)
    if _mentions_dollar(node):
        return node
    if node.kind == "list":
        return Z("binary", "in", (Z("dollar"), node))
    if node.kind == "binary" and node.value == "or" and all(a.kind == "lit" for a in node.args):
        return Z("binary", "in", (Z("dollar"), Z("list", args=node.args)))  # 'a' or 'b' on a value
    if _boolean(node):
        return node  # a whole condition (`x == true`, `a and b`) holds or not whatever `$` is
    return Z("binary", "==", (Z("dollar"), node))


_BOOLEAN_CALLS = {"contains", "startsWith", "endsWith", "some", "all", "none", "isNumeric"}


def _boolean(node: Z) -> bool:
    if node.kind == "binary":
        return node.value in ("==", "!=", "<", "<=", ">", ">=", "and", "or", "in")
    if node.kind == "unary":
        return node.value == "not"
    return node.kind == "call" and node.value in _BOOLEAN_CALLS


def _mentions_dollar(node: Z) -> bool:
    if node.kind == "dollar":
        return True
    return any(isinstance(a, Z) and _mentions_dollar(a) for a in node.args)


def walk(node: Z) -> list[Z]:
    out = [node]
    for a in node.args:
        if isinstance(a, Z):
            out.extend(walk(a))
    return out


def dotted(node: Z) -> str | None:
    """`a.b.c` for a name with members, else None."""
    if node.kind == "name":
        return str(node.value)
    if node.kind == "member":
        base = dotted(node.args[0])
        return f"{base}.{node.value}" if base else None
    return None


# -- writing zhidu ------------------------------------------------------------------------------

# ZEN function → zhidu function (same meaning on the values the importer types)
_CALLS = {
    "some": "any",
    "all": "all",
    "filter": "filter",
    "map": "map",
    "count": "count",
    "len": "len",
    "contains": "contains",
    "startsWith": "starts_with",
    "endsWith": "ends_with",
    "upper": "upper",
    "lower": "lower",
    "trim": "trim",
    "floor": "floor",
    "ceil": "ceil",
    "round": "round",
    "abs": "abs",
    "min": "min",
    "max": "max",
    "sum": "sum",
    "number": "number",
    "string": "string",
    "flatten": "flatten",
    "values": "values",
}


def write(
    node: Z, name: Callable[[str], str], subject: str | None = None, dollar: Callable[[str], str] | None = None
) -> str:
    """zhidu text for a ZEN tree. `name` turns a dotted ZEN name into a zhidu path; `subject` is what `$`
    stands for in a unary test; `dollar` resolves `$.key` in an expression node."""

    def w(n: Z) -> str:
        k = n.kind
        if k == "lit":
            v = n.value
            if v is None:
                raise ZenError("null has no zhidu literal")
            if isinstance(v, bool):
                return "true" if v else "false"
            if isinstance(v, str):
                return '"' + v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
            return str(v)
        if k in ("name", "member"):
            path = dotted(n)
            if path is not None:
                return name(path)
            if k == "member" and n.args[0].kind == "dollar":
                if dollar is None:
                    raise ZenError("'$.' outside an expression node")
                return dollar(str(n.value))
            if k == "member" and n.args[0].kind == "item":
                return "#." + str(n.value)
            if k == "member":
                inner = w(n.args[0])
                return f"{inner}.{n.value}" if inner.startswith("#") else _fail("a field of a computed value")
        if k == "dollar":
            if subject is None:
                raise ZenError("'$' outside a decision-table cell")
            return subject
        if k == "item":
            return "#"
        if k == "unary":
            inner = w(n.args[0])
            return f"not ({inner})" if n.value == "not" else f"-({inner})"
        if k == "binary":
            op = n.value
            a, b = n.args
            if op == "in" and b.kind == "list" and any(i.kind != "lit" for i in b.args):
                return "(" + " or ".join(f"{w(a)} == {w(i)}" for i in b.args) + ")" if b.args else "false"
            return f"({w(a)} {op} {w(b)})"
        if k == "cond":
            return f"({w(n.args[0])} ? {w(n.args[1])} : {w(n.args[2])})"
        if k == "list":
            return "[" + ", ".join(w(i) for i in n.args) + "]"
        if k == "object":
            return "{" + ", ".join(f'"{key}": {w(v)}' for key, v in zip(n.value, n.args, strict=True)) + "}"
        if k == "template":
            return "(" + " + ".join(w(p) for p in n.args) + ")"
        if k == "call":
            fn = str(n.value)
            args = list(n.args)
            if fn == "date" and len(args) == 1 and args[0].kind == "lit" and args[0].value == "now":
                raise ZenError("date('now') reads the clock: zen's answer changes with the time of the run")
            if fn == "date" and len(args) == 1 and args[0].kind == "lit" and isinstance(args[0].value, str):
                return f'epoch_seconds(date("{args[0].value[:10]}"))'  # JDM dates are seconds since 1970
            if fn == "date" and len(args) == 1:
                return f"epoch_seconds({w(args[0])})"  # the field is typed as a date when imported
            if fn in ("min", "max", "sum") and len(args) == 1 and args[0].kind == "list":
                inner = [w(i) for i in args[0].args]
                if fn == "sum":
                    return "(" + " + ".join(inner) + ")" if inner else "0"
                return f"{fn}({', '.join(inner)})" if len(inner) > 1 else inner[0]
            if fn == "avg" and len(args) == 1 and args[0].kind == "list":
                inner = [w(i) for i in args[0].args]
                return f"(({' + '.join(inner)}) / {len(inner)})"
            if fn == "none" and len(args) == 2:
                return f"not any({w(args[0])}, {w(args[1])})"
            if fn == "contains" and len(args) == 2 and args[0].kind == "list":
                return f"({w(args[1])} in {w(args[0])})"
            if fn not in _CALLS:
                raise ZenError(f"function {fn}() has no zhidu equivalent")
            return f"{_CALLS[fn]}({', '.join(w(a) for a in args)})"
        raise ZenError(f"cannot write {k}")

    return w(node)


def _fail(what: str) -> str:
    raise ZenError(f"{what} has no zhidu equivalent")
