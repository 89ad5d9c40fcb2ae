"""Value types shared by the fact vocabulary, findings and the expression checker."""

from __future__ import annotations

from dataclasses import dataclass

SCALAR_KINDS = ("string", "number", "integer", "money", "boolean", "date", "datetime", "duration")
NUMERIC_KINDS = ("number", "integer", "money")


@dataclass(frozen=True)
class Type:
    """A value type; enums are strings with a closed set of values."""

    kind: str
    item: Type | None = None
    values: tuple[str, ...] | None = None
    fields: tuple[tuple[str, Type], ...] = ()

    def __str__(self) -> str:
        if self.kind == "list":
            return f"list of {self.item}"
        if self.values is not None:
            return "enum"
        return self.kind

    @property
    def numeric(self) -> bool:
        return self.kind in NUMERIC_KINDS

    def field(self, name: str) -> Type | None:
        for fname, ftype in self.fields:
            if fname == name:
                return ftype
        return None


STRING = Type("string")
NUMBER = Type("number")
INTEGER = Type("integer")
MONEY = Type("money")
BOOLEAN = Type("boolean")
DATE = Type("date")
DATETIME = Type("datetime")
DURATION = Type("duration")
ANY = Type("any")


def list_of(item: Type) -> Type:
    return Type("list", item=item)


def comparable(a: Type, b: Type) -> bool:
    """Whether values of the two types may be compared with == and <."""
    if a.kind == "any" or b.kind == "any":
        return True
    if a.numeric and b.numeric:
        return True
    if a.kind == "list" and b.kind == "list":
        return a.item is not None and b.item is not None and comparable(a.item, b.item)
    return a.kind == b.kind
