"""Lint for company packs: inherited rules and table columns that test an enum fact the company extended."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .compiler import _Compiler


def lint_extended_enums(c: _Compiler) -> None:
    """A value added to an inherited enum matches none of the fixed lists the base pack wrote: name every
    inherited rule and table column that reads the fact, so the administrator can decide (warning
    enum-extended, acknowledgeable on the fact)."""
    for fact, added in c.raw.extended_enums:
        word = re.compile(rf"(?<![\w.]){re.escape(fact)}(?![\w])")
        readers: list[str] = []
        for section in ("rules", "authority"):
            for i, item in enumerate(c.data.get(section) or []):
                if isinstance(item, dict) and (section, item.get("id")) in c.raw.inherited:
                    if isinstance(item.get("when"), str) and word.search(item["when"]):
                        readers.append(f"{section}[{item['id']}] ({c.loc((section, i))})")
        for i, table in enumerate(c.data.get("tables") or []):
            if isinstance(table, dict) and ("tables", table.get("id")) in c.raw.inherited:
                for column in table.get("inputs") or []:
                    if isinstance(column, dict) and isinstance(column.get("expr"), str) and word.search(column["expr"]):
                        readers.append(f"tables[{table['id']}] column {column.get('name')} ({c.loc(('tables', i))})")
        for i, timer in enumerate(c.data.get("timers") or []):
            if isinstance(timer, dict) and ("timers", timer.get("id")) in c.raw.inherited:
                goals = timer.get("goal") if isinstance(timer.get("goal"), list) else []
                if any(isinstance(g, dict) and word.search(str(g.get("when", ""))) for g in goals):
                    readers.append(f"timers[{timer['id']}] goal ({c.loc(('timers', i))})")
        if readers:
            values = ", ".join(f"'{v}'" for v in added)
            c.warn(
                ("facts", fact),
                "enum-extended",
                f"'{fact}' gains {values} here, but inherited entries test it with the base pack's values and "
                f"will not match {values}: {'; '.join(readers)}. Override them (same id) or acknowledge this",
            )
