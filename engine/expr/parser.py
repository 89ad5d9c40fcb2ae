"""Tokenizer and recursive-descent parser for `when:` expressions (no eval, no attribute access)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from .. import limits
from ..types import BOOLEAN, DURATION, INTEGER, NUMBER, STRING
from . import ir


class ExprError(Exception):
    """A syntax or type error at a 0-based offset inside the expression text."""

    def __init__(self, code: str, message: str, offset: int):
        super().__init__(message)
        self.code = code
        self.message = message
        self.offset = offset


@dataclass(frozen=True)
class Token:
    kind: str  # num dur str ident op end
    text: str
    pos: int
    value: object = None


DURATION_UNITS = {
    "w": timedelta(weeks=1),
    "d": timedelta(days=1),
    "h": timedelta(hours=1),
    "min": timedelta(minutes=1),
    "s": timedelta(seconds=1),
}
# A century: longer literals are mistakes, and datetimes (years 1900-2999) plus one never overflow.
MAX_DURATION = timedelta(days=36525)
KEYWORDS = {"and", "or", "not", "in", "true", "false", "now"}
_NUM = re.compile(r"[0-9]+(\.[0-9]+)?")  # ASCII digits only: "²".isdigit() is true, int("²") fails
_IDENT = re.compile(r"[A-Za-z_\u4e00-\u9fff][A-Za-z0-9_\u4e00-\u9fff]*")
_OPS = (
    "==", "!=", "<=", ">=", "<", ">", "+", "-", "*", "/", "%", "(", ")", "[", "]", ",", ".",
    "??", "?", ":", "{", "}", "#",
)  # fmt: skip
_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'"}


def parse_duration_text(text: str) -> timedelta | None:
    """'13d', '24h', '30min', '1.5h' → timedelta; None when the text is not a duration."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(w|d|h|min|s)", text.strip())
    if not match:
        return None
    micros = Decimal(match.group(1)) * (DURATION_UNITS[match.group(2)] // timedelta(microseconds=1))
    if micros > MAX_DURATION // timedelta(microseconds=1):
        return None
    return timedelta(microseconds=int(micros))


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if "0" <= ch <= "9":
            m = _NUM.match(text, i)
            end = m.end() if m else i + 1
            if end - i > limits.NUMBER_DIGITS.value + 1:
                message = f"a number of more than {limits.NUMBER_DIGITS.value} digits"
                raise ExprError(limits.NUMBER_DIGITS.code, message, i)
            unit = re.match(r"(min|w|d|h|s)(?![A-Za-z0-9_\u4e00-\u9fff])", text[end:])
            if unit:
                span = text[i : end + unit.end()]
                value = parse_duration_text(span)
                if value is None:
                    raise ExprError("expr-syntax", f"duration {span} is longer than {MAX_DURATION.days} days", i)
                tokens.append(Token("dur", span, i, value))
                i = end + unit.end()
                continue
            if end < len(text) and (_IDENT.match(text, end)):
                raise ExprError(
                    "expr-syntax", f"unexpected '{text[end]}' after number (duration units are w, d, h, min, s)", end
                )
            num = text[i:end]
            tokens.append(Token("num", num, i, Decimal(num) if "." in num else int(num)))
            i = end
            continue
        if ch in "\"'":
            j = i + 1
            buf = []
            while j < len(text) and text[j] != ch:
                if text[j] == "\\" and j + 1 < len(text):
                    if text[j + 1] not in _ESCAPES:
                        raise ExprError("expr-syntax", f"unknown escape '\\{text[j + 1]}'", j)
                    buf.append(_ESCAPES[text[j + 1]])
                    j += 2
                    continue
                buf.append(text[j])
                j += 1
            if j >= len(text):
                raise ExprError("expr-syntax", "unterminated string", i)
            tokens.append(Token("str", text[i : j + 1], i, "".join(buf)))
            i = j + 1
            continue
        m = _IDENT.match(text, i)
        if m:
            tokens.append(Token("ident", m.group(0), i))
            i = m.end()
            continue
        for op in _OPS:
            if text.startswith(op, i):
                tokens.append(Token("op", op, i))
                i += len(op)
                break
        else:
            hint = " (use 'and', 'or', 'not')" if ch in "&|!" else " (use == to compare)" if ch == "=" else ""
            raise ExprError("expr-syntax", f"unexpected character '{ch}'{hint}", i)
    tokens.append(Token("end", "", len(text)))
    return tokens


class _Parser:
    def __init__(self, text: str):
        if len(text) > limits.EXPR_LENGTH.value:
            message = f"the expression is longer than {limits.EXPR_LENGTH.value:,} characters"
            raise ExprError(limits.EXPR_LENGTH.code, message, limits.EXPR_LENGTH.value)
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0  # nesting so far: every later stage walks the tree recursively

    def _deeper(self, pos: int, by: int = 1) -> None:
        self.depth += by
        if self.depth > limits.EXPR_DEPTH.value:
            message = f"the expression nests deeper than {limits.EXPR_DEPTH.value} levels: split it into findings"
            raise ExprError(limits.EXPR_DEPTH.code, message, pos)

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def _is(self, kind: str, text: str | None = None) -> bool:
        t = self.tok
        return t.kind == kind and (text is None or t.text == text)

    def _keyword(self, word: str) -> bool:
        return self._is("ident", word)

    def _advance(self) -> Token:
        t = self.tok
        self.i += 1
        return t

    def _expect(self, text: str) -> Token:
        if not self._is("op", text):
            found = self.tok.text or "end of expression"
            raise ExprError("expr-syntax", f"expected '{text}', found '{found}'", self.tok.pos)
        return self._advance()

    def parse(self) -> ir.Node:
        if self.tok.kind == "end":
            raise ExprError("expr-syntax", "empty expression", 0)
        node = self._cond()
        if self.tok.kind != "end":
            raise ExprError("expr-syntax", f"unexpected '{self.tok.text}'", self.tok.pos)
        return node

    def _cond(self) -> ir.Node:
        """`c ? a : b`, the lowest-precedence form; right-associative like most languages."""
        node = self._or()
        if self._is("op", "?"):
            pos = self._advance().pos
            then = self._cond()
            self._expect(":")
            return ir.Cond(pos, None, node, then, self._cond())
        return node

    def _or(self) -> ir.Node:
        first = self._and()
        items = [first]
        while self._keyword("or"):
            self._advance()
            items.append(self._and())
        return first if len(items) == 1 else ir.Or(first.pos, None, tuple(items))

    def _and(self) -> ir.Node:
        first = self._not()
        items = [first]
        while self._keyword("and"):
            self._advance()
            items.append(self._not())
        return first if len(items) == 1 else ir.And(first.pos, None, tuple(items))

    def _not(self) -> ir.Node:
        if self._keyword("not"):
            pos = self._advance().pos
            self._deeper(pos)
            node = ir.Not(pos, None, self._not())
            self.depth -= 1
            return node
        return self._compare()

    def _compare(self) -> ir.Node:
        left = self._coalesce()
        t = self.tok
        if t.kind == "op" and t.text in ("==", "!=", "<", "<=", ">", ">="):
            self._advance()
            right = self._coalesce()
            node: ir.Node = ir.Compare(t.pos, None, t.text, left, right)
        elif self._keyword("in"):
            self._advance()
            node = ir.In(t.pos, None, left, self._sum(), False)
        elif self._keyword("not") and self.tokens[self.i + 1].kind == "ident" and self.tokens[self.i + 1].text == "in":
            self._advance()
            self._advance()
            node = ir.In(t.pos, None, left, self._sum(), True)
        else:
            return left
        nxt = self.tok
        if nxt.kind == "op" and nxt.text in ("==", "!=", "<", "<=", ">", ">="):
            raise ExprError("expr-syntax", "comparisons cannot be chained: use 'and'", nxt.pos)
        return node

    def _coalesce(self) -> ir.Node:
        """`a ?? b`: a when it has a value, else b (binds tighter than comparisons)."""
        node = self._sum()
        while self._is("op", "??"):
            pos = self._advance().pos
            node = ir.Coalesce(pos, None, node, self._sum())
        return node

    def _sum(self) -> ir.Node:
        node = self._product()
        chain = 0  # a + b + c nests to the left: each term is one level deeper
        while self.tok.kind == "op" and self.tok.text in ("+", "-"):
            op = self._advance()
            chain += 1
            self._deeper(op.pos)
            node = ir.Arith(op.pos, None, op.text, node, self._product())
        self.depth -= chain
        return node

    def _product(self) -> ir.Node:
        node = self._unary()
        chain = 0
        while self.tok.kind == "op" and self.tok.text in ("*", "/", "%"):
            op = self._advance()
            chain += 1
            self._deeper(op.pos)
            node = ir.Arith(op.pos, None, op.text, node, self._unary())
        self.depth -= chain
        return node

    def _unary(self) -> ir.Node:
        if self._is("op", "-"):
            pos = self._advance().pos
            self._deeper(pos)
            node = ir.Neg(pos, None, self._unary())
            self.depth -= 1
            return node
        return self._primary()

    def _primary(self) -> ir.Node:
        t = self.tok
        if t.kind == "op" and t.text in ("(", "[") or t.kind == "ident" and self.tokens[self.i + 1].text == "(":
            self._deeper(t.pos)
            try:
                return self._primary_inner(t)
            finally:
                self.depth -= 1
        return self._primary_inner(t)

    def _primary_inner(self, t: Token) -> ir.Node:
        if t.kind == "num":
            self._advance()
            return ir.Literal(t.pos, INTEGER if isinstance(t.value, int) else NUMBER, t.value)
        if t.kind == "dur":
            self._advance()
            return ir.Literal(t.pos, DURATION, t.value)
        if t.kind == "str":
            self._advance()
            return ir.Literal(t.pos, STRING, t.value)
        if self._is("op", "("):
            self._advance()
            node = self._cond()
            self._expect(")")
            return node
        if self._is("op", "["):
            self._advance()
            items: list[ir.Node] = []
            while not self._is("op", "]"):
                items.append(self._cond())
                if not self._is("op", ","):
                    break
                self._advance()
            self._expect("]")
            return ir.ListLit(t.pos, None, tuple(items))
        if self._is("op", "{"):
            return self._object()
        if self._is("op", "#"):
            self._advance()
            return ir.Item(t.pos, None, self._fields())
        if t.kind == "ident":
            self._advance()
            if t.text in ("true", "false"):
                return ir.Literal(t.pos, BOOLEAN, t.text == "true")
            if t.text == "now":
                return ir.Now(t.pos, None)
            if t.text in KEYWORDS:
                raise ExprError("expr-syntax", f"unexpected keyword '{t.text}'", t.pos)
            if self._is("op", "("):
                self._advance()
                args: list[ir.Node] = []
                while not self._is("op", ")"):
                    args.append(self._cond())
                    if not self._is("op", ","):
                        break
                    self._advance()
                self._expect(")")
                return ir.Call(t.pos, None, t.text, tuple(args))
            return ir.Path(t.pos, None, (t.text, *self._fields()))
        if t.kind == "end":
            raise ExprError("expr-syntax", "expression ends too early", t.pos)
        raise ExprError("expr-syntax", f"unexpected '{t.text}'", t.pos)

    def _fields(self) -> tuple[str, ...]:
        names: list[str] = []
        while self._is("op", "."):
            self._advance()
            part = self.tok
            if part.kind != "ident" or part.text in KEYWORDS:
                raise ExprError("expr-syntax", "expected a field name after '.'", part.pos)
            self._advance()
            names.append(part.text)
        return tuple(names)

    def _object(self) -> ir.Node:
        """`{name: value, "other name": value}`: an object value (findings may hold objects)."""
        pos = self._advance().pos
        keys: list[str] = []
        values: list[ir.Node] = []
        while not self._is("op", "}"):
            key = self.tok
            if key.kind not in ("ident", "str"):
                raise ExprError("expr-syntax", "expected a field name in an object", key.pos)
            name = key.text if key.kind == "ident" else str(key.value)
            if name in keys:
                raise ExprError("expr-syntax", f"field '{name}' appears twice", key.pos)
            self._advance()
            self._expect(":")
            keys.append(name)
            values.append(self._cond())
            if not self._is("op", ","):
                break
            self._advance()
        self._expect("}")
        return ir.ObjectLit(pos, None, tuple(keys), tuple(values))


def parse(text: str) -> ir.Node:
    """Parse an expression into an untyped IR tree; raises ExprError with the offset."""
    return _Parser(text).parse()
