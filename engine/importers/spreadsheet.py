"""Decision tables as spreadsheets: `zhidu table export` (YAML → XLSX/CSV) and `zhidu table import` (back).

Layout of one table (one XLSX sheet, named after the table, or one CSV file):

    id          | settlement-authority          ← settings: a name in column A, its value in B,
    hit         | first                           down to the first empty row
    ref         | 客户投诉管理办法(九)6
    (empty row)
    input       | input        | output    | output   | priority | ref | description   ← column kinds
    resolution  | amount       | approver  | chain    |          |     |               ← names
                | loss_amount  |           |          |          |     |               ← input expr / output finding
    allowance   | <= 5000      | sales-mgr | [sales-mgr] | …                           ← one row per table row

Settings: id, hit, ref, description, aggregate. Input cells are unary tests; output cells are read as
YAML flow values (`5000`, `true`, `[a, b]`, `= price * 2`, text); an empty output cell is "no value".
Export writes the same, so YAML → XLSX → YAML gives the same YAML, byte for byte, from the second
round on (the first round writes the table in the canonical form: keys in schema order, flow rows).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from ..errors import Diagnostic, Location, ZhiduError
from ..tables import HIT_POLICIES
from .yamlout import Inline, dump_yaml

SETTINGS = ("id", "hit", "ref", "description", "aggregate")
KINDS = ("input", "output", "priority", "ref", "description", "placeholder")


class SheetError(ZhiduError):
    """A spreadsheet that does not hold tables in the documented layout; every problem is located."""

    exit_code = 1
    default_code = "spreadsheet"


@dataclass
class _Cells:
    """One sheet (or CSV file) as text rows, with where it came from for messages."""

    file: str
    sheet: str | None
    rows: list[list[Any]]

    def where(self, row: int, col: int) -> Location:
        name = f"{self.file}[{self.sheet}]" if self.sheet else self.file
        return Location(name, row + 1, col + 1)


def _letter(col: int) -> str:
    out = ""
    col += 1
    while col:
        col, rem = divmod(col - 1, 26)
        out = chr(65 + rem) + out
    return out


# -- YAML flow values in cells ----------------------------------------------------------------------


class _Flow(yaml.SafeDumper):
    pass


_Flow.add_representer(Decimal, lambda d, v: d.represent_scalar("tag:yaml.org,2002:float", str(v)))


def _cell_text(value: Any) -> Any:
    """An output value as a cell: numbers and booleans as themselves, text as text, the rest as YAML flow."""
    if value is None:
        return None
    if isinstance(value, bool | int):
        return value
    if isinstance(value, Decimal):
        return str(value)  # text: an exact decimal, never a binary float
    if isinstance(value, str) and _reads_back(value):
        return value
    return yaml.dump(value, Dumper=_Flow, default_flow_style=True, allow_unicode=True, width=10_000).strip()


def _reads_back(text: str) -> bool:
    try:
        return yaml.safe_load(text) == text
    except yaml.YAMLError:
        return False


def _cell_value(raw: Any) -> Any:
    """A cell back as a value: text is read as a YAML flow value (numbers exactly, as Decimal)."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool | int):
        return raw
    if isinstance(raw, float):
        return Decimal(repr(raw))
    text = str(raw)
    if text.lstrip().startswith("="):
        return text
    try:
        value = yaml.load(text, Loader=_DecimalLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError:
        return text
    return value if value is not None else text


class _DecimalLoader(yaml.SafeLoader):
    pass


_DecimalLoader.add_constructor("tag:yaml.org,2002:float", lambda loader, node: Decimal(loader.construct_scalar(node)))


def _test_text(cell: Any) -> Any:
    if isinstance(cell, bool | int):
        return cell
    if isinstance(cell, float):
        return Decimal(repr(cell))
    return None if cell is None else str(cell)


def _placeholder_of(when: Any) -> tuple[list[Any], dict[str, Any] | None]:
    """A row's tests, and the named placeholder wrapped around them (`when: {placeholder, value, reason}`)."""
    if isinstance(when, dict) and "placeholder" in when:
        return list(when.get("value") or []), {k: v for k, v in when.items() if k != "value"}
    return list(when or []), None


# -- export ----------------------------------------------------------------------------------------


def table_rows(spec: dict[str, Any]) -> list[list[Any]]:
    """One table spec as the documented grid of cells."""
    grid: list[list[Any]] = []
    for key in SETTINGS:
        if spec.get(key) is not None:
            grid.append([key, spec[key]])
    grid.append([])
    inputs = spec.get("inputs") or []
    outputs = spec.get("outputs") or []
    findings = spec.get("findings") or {}
    rows = spec.get("rows") or []
    holders = [_placeholder_of(r.get("when"))[1] for r in rows]
    extras = [k for k in ("priority", "ref", "description") if any(k in r for r in rows)]
    extras += ["placeholder"] if any(holders) else []
    kinds = ["input"] * len(inputs) + ["output"] * len(outputs) + extras
    names = [i["name"] for i in inputs] + list(outputs) + [None] * len(extras)
    third = [i.get("expr") for i in inputs] + [findings.get(o) for o in outputs] + [None] * len(extras)
    grid += [kinds, names, third]
    for r, holder in zip(rows, holders, strict=True):
        when = _placeholder_of(r.get("when"))[0]
        then = r.get("then") or {}
        extra = [_cell_text(holder) if k == "placeholder" else r.get(k) for k in extras]
        grid.append([_test_text(c) for c in when] + [_cell_text(then.get(o)) for o in outputs] + extra)
    return grid


def export_tables(specs: list[dict[str, Any]], path: str | Path) -> None:
    """Write tables to .xlsx (one sheet each) or .csv (exactly one table)."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        if len(specs) != 1:
            raise SheetError(f"{path}: a CSV file holds one table; choose one with --table ({len(specs)} given)")
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        for row in table_rows(specs[0]):
            writer.writerow(["" if c is None else ("TRUE" if c is True else "FALSE" if c is False else c) for c in row])
        _atomic(path, buf.getvalue().encode("utf-8"))
        return
    if path.suffix.lower() != ".xlsx":
        raise SheetError(f"{path}: write .xlsx or .csv")
    from openpyxl import Workbook

    book = Workbook()
    book.remove(book.active)
    for spec in specs:
        sheet = book.create_sheet(_sheet_name(spec["id"]))
        for row in table_rows(spec):
            sheet.append(row)
            for cell in sheet[sheet.max_row]:
                if isinstance(cell.value, str) and cell.value.startswith("="):
                    cell.data_type = "s"  # `= price * 2` is a zhidu expression, not a spreadsheet formula
    buf = io.BytesIO()
    book.save(buf)
    _atomic(path, buf.getvalue())


def _sheet_name(table_id: str) -> str:
    if len(table_id) > 31 or any(c in table_id for c in "[]:*?/\\"):
        raise SheetError(f"table id '{table_id}' cannot name a sheet (at most 31 characters, no []:*?/\\)")
    return table_id


def _atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


# -- import ----------------------------------------------------------------------------------------


def read_sheets(path: str | Path) -> list[_Cells]:
    path = Path(path)
    if path.suffix.lower() == ".csv":
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise SheetError(f"{path}: cannot read: {exc}") from None
        rows = [[_csv_cell(c) for c in row] for row in csv.reader(io.StringIO(text))]
        return [_Cells(str(path), None, rows)]
    if path.suffix.lower() != ".xlsx":
        raise SheetError(f"{path}: read .xlsx or .csv")
    from openpyxl import load_workbook

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds for a damaged file
        raise SheetError(f"{path}: not a readable .xlsx file: {exc}") from None
    out = []
    for sheet in book.worksheets:
        rows = [list(r) for r in sheet.iter_rows(values_only=True)]
        out.append(_Cells(str(path), sheet.title, rows))
    book.close()
    return out


def _csv_cell(text: str) -> Any:
    if text == "":
        return None
    if text in ("TRUE", "FALSE"):
        return text == "TRUE"
    try:
        return int(text) if text.lstrip("-").isdigit() else text
    except ValueError:
        return text


def import_tables(path: str | Path) -> list[dict[str, Any]]:
    """Every table of a spreadsheet as a table spec; SheetError lists every problem with sheet, row, column."""
    specs, errors = [], []
    for cells in read_sheets(path):
        spec = _table(cells, errors)
        if spec is not None:
            specs.append(spec)
    if errors:
        raise SheetError(errors)
    return specs


def _table(cells: _Cells, errors: list[Diagnostic]) -> dict[str, Any] | None:
    rows = [list(r) for r in cells.rows]
    while rows and not any(c not in (None, "") for c in rows[-1]):
        rows.pop()

    def error(r: int, c: int, message: str) -> None:
        errors.append(Diagnostic(cells.where(r, c), "spreadsheet", f"column {_letter(c)}: {message}"))

    spec: dict[str, Any] = {}
    i = 0
    while i < len(rows) and any(c not in (None, "") for c in rows[i]):
        key, value = (rows[i] + [None, None])[:2]
        if key not in SETTINGS:
            error(i, 0, f"unknown setting {key!r} (settings: {', '.join(SETTINGS)}; an empty row ends them)")
        elif value in (None, ""):
            error(i, 1, f"{key} needs a value")
        else:
            spec[key] = str(value) if key != "aggregate" else value
        i += 1
    before = len(errors)
    if "id" not in spec:
        error(0, 0, "a table needs an id (first rows: id, hit, …)")
    if spec.get("hit") not in HIT_POLICIES:
        error(min(i, len(rows)) - 1 if i else 0, 1, f"hit must be one of {', '.join(HIT_POLICIES)}")
    header = i + 1
    if len(rows) < header + 3:
        error(min(header, max(len(rows) - 1, 0)), 0, "after the settings and an empty row come three header rows")
        return None
    kinds, names, third = (rows[header] + []), rows[header + 1], rows[header + 2]
    width = max((k for k, v in enumerate(kinds) if v not in (None, "")), default=-1) + 1
    columns = []
    for c in range(width):
        kind = kinds[c]
        if kind not in KINDS:
            error(header, c, f"column kind must be one of {', '.join(KINDS)}, not {kind!r}")
            continue
        name = names[c] if c < len(names) else None
        if kind in ("input", "output") and name in (None, ""):
            error(header + 1, c, f"an {kind} column needs a name")
            continue
        columns.append((c, kind, name, third[c] if c < len(third) else None))
    if len(errors) > before:
        return None
    spec["inputs"] = [
        {"name": str(n), **({"expr": str(x)} if x not in (None, "") else {})} for _, k, n, x in columns if k == "input"
    ]
    spec["outputs"] = [str(n) for _, k, n, _ in columns if k == "output"]
    findings = {str(n): str(x) for _, k, n, x in columns if k == "output" and x not in (None, "")}
    if findings:
        spec["findings"] = findings
    spec["rows"] = []
    for r in range(header + 3, len(rows)):
        line = rows[r] + [None] * width
        if not any(v not in (None, "") for v in line[:width]):
            continue
        row: dict[str, Any] = {"when": [], "then": {}}
        for c, kind, name, _ in columns:
            raw = line[c]
            if kind == "input":
                if raw in (None, ""):
                    error(r, c, f"input '{name}': empty test (write - for any value)")
                row["when"].append(_test_text(raw))
            elif kind == "output":
                row["then"][str(name)] = _cell_value(raw)
            elif raw not in (None, ""):
                if kind == "priority" and not (isinstance(raw, int) and not isinstance(raw, bool)):
                    error(r, c, f"priority must be an integer, not {raw!r}")
                if kind == "placeholder":
                    holder = _cell_value(raw)
                    if not isinstance(holder, dict) or "placeholder" not in holder:
                        error(r, c, f"placeholder must be {{placeholder: NAME, reason: …}}, not {raw!r}")
                        continue
                    row["when"] = {**holder, "value": row["when"]}
                    continue
                row[kind] = raw if kind == "priority" else str(raw)
        spec["rows"].append(row)
    if not spec["rows"]:
        error(header + 2, 0, "the table has no rows")
    return spec


def tables_yaml(specs: list[dict[str, Any]]) -> str:
    """The canonical YAML of tables (an includable file: `tables:`), rows written one per line."""
    ordered = []
    for spec in specs:
        out = {k: spec[k] for k in ("id", "ref", "description", "hit", "aggregate") if k in spec}
        out["inputs"] = [Inline(i) for i in spec["inputs"]]
        out["outputs"] = Inline(spec["outputs"])
        if spec.get("findings"):
            out["findings"] = Inline(spec["findings"])
        out["rows"] = [
            Inline({k: r[k] for k in ("when", "then", "priority", "ref", "description") if k in r})
            for r in spec["rows"]
        ]
        ordered.append(out)
    return dump_yaml({"tables": ordered})


def export_pack_tables(ref: str | Path, path: str | Path, ids: tuple[str, ...] = ()) -> int:
    """Export a pack's tables (all, or those named) to a spreadsheet; returns how many."""
    from ..loader import load_pack

    raw = load_pack(ref)
    if raw.diagnostics:
        raise SheetError(raw.diagnostics)
    specs = [_plain(t) for t in raw.data.get("tables") or [] if isinstance(t, dict)]
    if ids:
        known = {t.get("id") for t in specs}
        missing = [i for i in ids if i not in known]
        if missing:
            raise SheetError(f"{ref}: no table {', '.join(missing)} (tables: {', '.join(sorted(map(str, known)))})")
        specs = [t for t in specs if t.get("id") in ids]
    if not specs:
        raise SheetError(f"{ref}: the pack has no tables")
    export_tables(specs, path)
    return len(specs)


def _plain(value: Any) -> Any:
    """Loader values (positioned strings, Decimal) as plain Python values."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


def write_text(path: str | Path, text: str) -> None:
    _atomic(Path(path), text.encode("utf-8"))
