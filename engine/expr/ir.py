"""Intermediate representation of conditions: immutable nodes with their offset and checked type."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..types import Type


@dataclass(frozen=True)
class Node:
    pos: int
    type: Type | None


@dataclass(frozen=True)
class Literal(Node):
    value: Any


@dataclass(frozen=True)
class Path(Node):
    names: tuple[str, ...]

    @property
    def dotted(self) -> str:
        return ".".join(self.names)


@dataclass(frozen=True)
class Now(Node):
    pass


@dataclass(frozen=True)
class Neg(Node):
    operand: Node


@dataclass(frozen=True)
class Arith(Node):
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Compare(Node):
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class In(Node):
    item: Node
    container: Node
    negated: bool


@dataclass(frozen=True)
class And(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not(Node):
    operand: Node


@dataclass(frozen=True)
class Call(Node):
    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class ListLit(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Cond(Node):
    """`test ? then : other`."""

    test: Node
    then: Node
    other: Node


@dataclass(frozen=True)
class Coalesce(Node):
    """`left ?? right`: left when it has a value."""

    left: Node
    right: Node


@dataclass(frozen=True)
class ObjectLit(Node):
    keys: tuple[str, ...]
    values: tuple[Node, ...]


@dataclass(frozen=True)
class Item(Node):
    """`#` (or `#.field`): the list item a predicate of any/all/filter/map/count/sum is applied to."""

    names: tuple[str, ...]


def paths(node: Node) -> list[Path]:
    """Every fact path a node reads, in order of appearance."""
    out: list[Path] = []

    def walk(n: Node) -> None:
        if isinstance(n, Path):
            out.append(n)
        for child in children(n):
            walk(child)

    walk(node)
    return out


def children(node: Node) -> tuple[Node, ...]:
    if isinstance(node, Neg | Not):
        return (node.operand,)
    if isinstance(node, Arith | Compare):
        return (node.left, node.right)
    if isinstance(node, In):
        return (node.item, node.container)
    if isinstance(node, And | Or | ListLit):
        return node.items
    if isinstance(node, Call):
        return node.args
    if isinstance(node, Cond):
        return (node.test, node.then, node.other)
    if isinstance(node, Coalesce):
        return (node.left, node.right)
    if isinstance(node, ObjectLit):
        return node.values
    return ()
