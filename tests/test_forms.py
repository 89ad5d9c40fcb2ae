"""Forms: Decision.forms on both engines, the numbering database, safe rendering, golden files, a real browser.

Golden files live in tests/goldens/<pack>/<form>.<html|md>. After an intended change to a form, regenerate
them with `ZHIDU_UPDATE_GOLDENS=1 python3 -m pytest tests/test_forms.py -k golden`, review the diff and commit.
See docs/forms.md.
"""

from __future__ import annotations

import difflib
import json
import multiprocessing
import os
import re
import shutil
import struct
import subprocess
import warnings
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from click.testing import CliRunner

import cli
import engine
from engine.errors import ZhiduError
from engine.forms import FORMATS, Counter, TemplateProblem, bundled_forms
from engine.forms import render as render_form
from engine.source import read_document
from tests.conftest import NOW, ROOT, both

PCB = "pcb-manufacturer"
HANDLING = "complaint-handling-form"
PCB_EXAMPLE = ROOT / "policies" / PCB / "examples" / "quality-complaint.yaml"
GOLDENS = Path(__file__).resolve().parent / "goldens"
UPDATE_GOLDENS = os.environ.get("ZHIDU_UPDATE_GOLDENS") == "1"


def load_case(path: Path) -> dict:
    data, _, diags = read_document(path)
    assert not diags, [str(d) for d in diags]
    return data


def pcb_case(drop: tuple[str, ...] = (), **facts: object) -> dict:
    """The pcb example case with some facts removed and others set."""
    case = load_case(PCB_EXAMPLE)
    for name in drop:
        case["facts"].pop(name)
    case["facts"].update(facts)
    return case


def write_case(path: Path, case: dict) -> Path:
    path.write_text(json.dumps(case, ensure_ascii=False), encoding="utf-8")
    return path


def handling(decision: dict) -> dict:
    return next(f for f in decision["forms"] if f["id"] == HANDLING)


def run_cli(*args: object):
    return CliRunner().invoke(cli.main, [str(a) for a in args], catch_exceptions=False)


def shown(path: Path) -> str:
    """A file name as the engine prints it: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def number_printed(text: str) -> str:
    match = re.search(r"编号 No\.: (\S+)", text)
    assert match, text[:400]
    return match.group(1)


# ------------------------------------------------------------------------------------------------
# 1. Decision.forms: fields, copies, route, number and missing required fields, on both engines
# ------------------------------------------------------------------------------------------------
EXAMPLE_FIELDS = {
    "customer": "华南电子有限公司",
    "order_no": "SO-2408-117",
    "part_no": "PCB-6L-0042",
    "ship_date": "2024-08-28",
    "quantity": 5000,
    "defect_quantity": 320,
    "customer_demand": "退货重处理",
    "cause": "quality_abnormal",
    "resolution": "rework",
    "loss_amount": "12000.00",
}
EXAMPLE_COPIES = [
    (1, "qa", "质量管理部"),
    (2, "manufacturing", "制造部门"),
    (3, "sales", "业务部门"),
    (4, "accounting", "会计科"),
    (5, "gm-office", "总经理室生产管理组"),
]
EXAMPLE_ROUTE = [
    ("sales", "业务部门", None),
    ("gm-office", "总经理室生产管理组", "1/2天"),
    ("qa", "质量管理部", "1天"),
    ("manufacturing", "制造部门", "1天"),
    ("rnd", "研发部", "1天"),
    ("sales", "业务部门", "国内5天/国外12天"),
    ("gm-office", "总经理室生产管理组", "1/2天"),
]


def test_the_issued_form_carries_fields_copies_and_route(pcb, decision_validator):
    decision = both(pcb, pcb_case())
    decision_validator.validate(decision)
    entry = handling(decision)
    assert entry["fields"] == EXAMPLE_FIELDS
    assert [(c["copy"], c["holder"], c["holder_label"]) for c in entry["copies"]] == EXAMPLE_COPIES
    assert [(r["role"], r["label"], r["budget"]) for r in entry["route"]] == EXAMPLE_ROUTE
    assert entry["missing"] == [] and entry["number"] is None  # the example carries no case_serial
    assert not [w for w in decision["warnings"] if w["code"] == "form-missing-fields"]


def test_forms_without_a_definition_are_listed_but_not_enriched(minimal):
    case = {"facts": {"received_at": "2024-09-03T09:30:00+08:00", "loss_amount": "6000.00"}}
    forms = both(minimal, case)["forms"]
    assert [f["id"] for f in forms] == ["handling-form"]  # declared by name only: no form.yaml anywhere
    assert not {"fields", "missing", "number", "copies", "route"} & set(forms[0])


NUMBERS = [
    pytest.param({"case_serial": 3}, (), NOW, "240903", id="serial-3-in-2024-09"),
    pytest.param({"case_serial": 1}, (), NOW, "240901", id="serial-1-padded"),
    pytest.param({"case_serial": 123}, (), NOW, "2409123", id="serial-wider-than-the-padding"),
    pytest.param(
        {"case_serial": 12, "accepted_at": "2024-10-31T23:30:00+08:00"},
        (),
        "2024-11-05T10:00:00+08:00",
        "241012",
        id="month-of-accepted-at-not-of-now",
    ),
    pytest.param(
        {"case_serial": 5, "accepted_at": "2024-09-30T17:00:00Z"},
        (),
        "2024-10-08T10:00:00+08:00",
        "241005",
        id="month-in-the-pack-timezone",
    ),
    pytest.param({"case_serial": 7}, ("accepted_at",), NOW, "240907", id="no-accepted-at-uses-now"),
    pytest.param({}, (), NOW, None, id="no-serial-no-number"),
]


@pytest.mark.parametrize(("facts", "drop", "now", "number"), NUMBERS)
def test_number_from_case_serial_and_month(pcb, facts, drop, now, number):
    assert handling(both(pcb, pcb_case(drop, **facts), now))["number"] == number


MISSING = [
    pytest.param((), {}, [], id="complete"),
    pytest.param(("order_no",), {}, ["订单编号"], id="order-no-absent"),
    pytest.param(
        ("order_no", "part_no", "ship_date"), {}, ["订单编号", "料号", "交运日期"], id="three-absent-form-order"
    ),
    pytest.param((), {"order_no": ""}, ["订单编号"], id="empty-string-counts-as-missing"),
    pytest.param(("customer_name", "loss_amount"), {}, [], id="optional-fields-may-be-absent"),
    # (九)1: while the customer is still processing, 不良数量 may stay blank (客户加工中未确定)
    pytest.param(("defect_quantity",), {"demand_quantity_pending": True}, [], id="9-1-pending-may-be-blank"),
    pytest.param(("defect_quantity",), {"demand_quantity_pending": False}, ["不良数量"], id="9-1-not-pending-required"),
    pytest.param(("defect_quantity",), {}, ["不良数量"], id="9-1-pending-unknown-required"),
    pytest.param((), {"demand_quantity_pending": True}, [], id="9-1-pending-with-quantity"),
    pytest.param(("order_no", "defect_quantity"), {}, ["订单编号", "不良数量"], id="required-and-required-when"),
]


@pytest.mark.parametrize(("drop", "facts", "labels"), MISSING)
def test_missing_required_fields_and_the_warning(pcb, drop, facts, labels):
    decision = both(pcb, pcb_case(drop, **facts))
    entry = handling(decision)
    assert [m["label"] for m in entry["missing"]] == labels
    assert all(entry["fields"][m["field"]] is None for m in entry["missing"])
    warned = [w for w in decision["warnings"] if w["code"] == "form-missing-fields"]
    if labels:
        assert warned == [
            {
                "code": "form-missing-fields",
                "message": "客户抱怨处理表缺少：" + "、".join(labels),
                "ref": "客户投诉管理办法(九)1",  # the pack's forms entry cites its clause
            }
        ]
    else:
        assert warned == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_pending_quantity_prints_the_placeholder(pcb, fmt):
    case = pcb_case(("defect_quantity",), demand_quantity_pending=True)
    decision = pcb.evaluate(case, NOW).to_dict()
    facts, _ = pcb.normaliser.case(case, None, "case")
    text = render_form(pcb, decision, facts, HANDLING, fmt)
    row = next(line for line in text.splitlines() if "不良数量" in line)
    assert "客户加工中未确定" in row


# ------------------------------------------------------------------------------------------------
# 2. The numbering database
# ------------------------------------------------------------------------------------------------
COUNTER_CALLS = [
    pytest.param([("f", "2024-09")] * 4, [1, 2, 3, 4], id="counts-up-from-1"),
    pytest.param(
        [("f", "2024-09"), ("f", "2024-09"), ("f", "2024-10"), ("f", "2024-10"), ("f", "2024-09")],
        [1, 2, 1, 2, 3],
        id="restarts-each-period",
    ),
    pytest.param([("a", "2024-09"), ("b", "2024-09"), ("a", "2024-09")], [1, 1, 2], id="counters-independent"),
]


@pytest.mark.parametrize(("calls", "want"), COUNTER_CALLS)
def test_counter_sequences(tmp_path, calls, want):
    counter = Counter(tmp_path / "serials.db")
    assert [counter.next(name, period) for name, period in calls] == want


def test_counter_survives_reopening(tmp_path):
    assert [Counter(tmp_path / "serials.db").next("f", "2024-09") for _ in range(3)] == [1, 2, 3]


@pytest.mark.parametrize("name", ["not-a-db", "no-such-folder/serials.db"])
def test_counter_reports_an_unusable_file(tmp_path, name):
    (tmp_path / "not-a-db").write_text("plain text, not SQLite", encoding="utf-8")
    with pytest.raises(ZhiduError, match=re.escape(name)):
        Counter(tmp_path / name).next("f", "2024-09")


WORKERS, PER_WORKER = 4, 50


def _allocate(path: str, barrier, queue) -> None:
    """Child process: wait for the others, then take PER_WORKER numbers as fast as possible."""
    counter = Counter(path)
    barrier.wait(timeout=120)
    queue.put([counter.next("race", "2024-09") for _ in range(PER_WORKER)])


def test_counter_never_hands_out_a_number_twice_across_processes(tmp_path):
    # fork where there is one (fast); spawn elsewhere (each child then imports this module)
    ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    path = tmp_path / "serials.db"
    Counter(path)
    barrier, queue = ctx.Barrier(WORKERS), ctx.Queue()
    procs = [ctx.Process(target=_allocate, args=(str(path), barrier, queue)) for _ in range(WORKERS)]
    for p in procs:
        p.start()
    try:
        chunks = [queue.get(timeout=180) for _ in procs]
    finally:
        for p in procs:
            p.join(timeout=60)
    assert [p.exitcode for p in procs] == [0] * WORKERS
    numbers = [n for chunk in chunks for n in chunk]
    assert len(numbers) == len(set(numbers)) == WORKERS * PER_WORKER
    assert sorted(numbers) == list(range(1, WORKERS * PER_WORKER + 1))
    assert all(chunk == sorted(chunk) for chunk in chunks)  # each process sees its numbers rise
    assert Counter(path).next("race", "2024-09") == WORKERS * PER_WORKER + 1


def test_render_counter_allocates_the_next_serial(tmp_path):
    db = tmp_path / "serials.db"
    plain = write_case(tmp_path / "plain.json", pcb_case())
    args = ("render", PCB, plain, "--form", HANDLING, "--format", "md", "--now", NOW)
    assert number_printed(run_cli(*args).stdout) == "________"  # no serial, no counter: a blank to fill in
    assert [number_printed(run_cli(*args, "--counter", db).stdout) for _ in range(3)] == ["240901", "240902", "240903"]
    # A case that carries its serial keeps it and takes nothing from the counter.
    serial = write_case(tmp_path / "serial.json", pcb_case(case_serial=9))
    result = run_cli("render", PCB, serial, "--form", HANDLING, "--format", "md", "--now", NOW, "--counter", db)
    assert number_printed(result.stdout) == "240909"
    # A case accepted in October starts October's series.
    october = write_case(tmp_path / "october.json", pcb_case(accepted_at="2024-10-02T09:00:00+08:00"))
    later = "2024-10-08T10:00:00+08:00"
    result = run_cli("render", PCB, october, "--form", HANDLING, "--format", "md", "--now", later, "--counter", db)
    assert number_printed(result.stdout) == "241001"
    assert Counter(db).next(HANDLING, "2024-09") == 4


def test_a_yearly_pattern_never_repeats_a_number(tmp_path):
    pack = write_pack(tmp_path / "pack")
    yearly = FORM_YAML.replace("N{yyyy}{mm}-{serial:03d}", "N{yyyy}-{serial:03d}")
    (pack / "forms" / "note-form" / "form.yaml").write_text(yearly, encoding="utf-8")
    numbers = []
    for month in ("09", "10"):
        case = write_case(tmp_path / f"{month}.json", {"facts": {"received_at": f"2024-{month}-03T09:30:00+08:00"}})
        args = ("render", pack, case, "--form", "note-form", "--format", "md", "--now", "2024-10-10T10:00:00+08:00")
        numbers.append(number_printed(run_cli(*args, "--counter", tmp_path / "serials.db").stdout))
    assert numbers[0] == "N2024-001"
    assert numbers[1] != numbers[0], f"the same number twice: {numbers}"


# ------------------------------------------------------------------------------------------------
# 3. Rendering safety: escaping, template problems, atomic -o
# ------------------------------------------------------------------------------------------------
HOSTILE = [
    pytest.param("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;", "<script", id="script-tag"),
    pytest.param('<img src=x onerror="alert(1)">', "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;", "<img", id="img"),
    pytest.param("A&B <b>粗</b>", "A&amp;B &lt;b&gt;粗&lt;/b&gt;", "<b>", id="ampersand-and-bold"),
    pytest.param(
        "{{ 7*7 }}{% if 1 %}x{% endif %}", "{{ 7*7 }}{% if 1 %}x{% endif %}", "49", id="no-template-injection"
    ),
]


@pytest.mark.parametrize(("text", "escaped", "absent"), HOSTILE)
def test_customer_text_is_escaped_in_html(tmp_path, text, escaped, absent):
    case = write_case(tmp_path / "case.json", pcb_case(customer_name=text, customer_demand=text))
    result = run_cli("render", PCB, case, "--form", HANDLING, "--format", "html", "--now", NOW)
    assert result.exit_code == 0, result.output
    html = result.stdout
    assert f"<th>客户名称</th><td>{escaped}</td>" in html
    assert f"<th>客户要求</th><td>{escaped}</td>" in html
    assert absent not in html.lower()


def test_markdown_keeps_table_rows_intact(tmp_path):
    case = write_case(tmp_path / "case.json", pcb_case(customer_demand="退货|重处理\n第二行"))
    result = run_cli("render", PCB, case, "--form", HANDLING, "--format", "md", "--now", NOW)
    assert "| 客户要求 | 退货\\|重处理 第二行 |" in result.stdout.splitlines()


def test_markdown_footer_lines_are_separate_paragraphs(pcb):
    case = pcb_case()
    decision = pcb.evaluate(case, NOW).to_dict()
    text = render_form(pcb, decision, pcb.normaliser.case(case, None, "case")[0], HANDLING, "md")
    assert "\n\n流转：" in text and "\n\n依据 " in text and text.endswith("\n")


PACK_YAML = """\
id: forms-probe
version: "0.1"
title: {zh: 表单测试包, en: Forms probe}
timezone: Asia/Shanghai
facts:
  received_at: {type: datetime, required: true, label: {zh: 受理时间}}
  customer_note: {type: string, label: {zh: 客户说明}}
  other_note: {type: string}
  ticket_serial: {type: integer}
forms:
  note-form: %s
roles:
  gm: {label: 总经理}
rules:
  - id: issue-note
    ref: "A1"
    when: exists(received_at)
    then: {forms: [note-form]}
"""
FORM_YAML = """\
id: note-form
label: {zh: 客户说明单, en: Note form}
ref: "A1"
numbering: {pattern: "N{yyyy}{mm}-{serial:03d}", date: received_at, serial: ticket_serial}
fields:
  - {id: note, label: 客户说明, value: customer_note, required: true}
copies:
  - {copy: 1, holder: gm}
route:
  - {role: gm, budget: 1天}
templates: {html: form.html.j2, md: form.md.j2}
"""
PROBE_CASE = {
    "facts": {
        "received_at": "2024-09-03T09:30:00+08:00",
        "customer_note": "<script>alert(1)</script>",
        "ticket_serial": 7,
    }
}


def write_pack(root: Path, templates: dict[str, str] | None = None, entry: str = "{label: 说明单}") -> Path:
    """A small pack with its own forms/note-form/ folder (used without `definition:`)."""
    folder = root / "forms" / "note-form"
    folder.mkdir(parents=True)
    (root / "policy.yaml").write_text(PACK_YAML % entry, encoding="utf-8")
    (folder / "form.yaml").write_text(FORM_YAML, encoding="utf-8")
    files = {"form.html.j2": '{% extends "base.html.j2" %}\n', "form.md.j2": '{% extends "base.md.j2" %}\n'}
    for name, text in {**files, **(templates or {})}.items():
        (folder / name).write_text(text, encoding="utf-8")
    return root


def test_a_packs_own_form_folder_is_used_without_definition(tmp_path):
    pack = write_pack(tmp_path / "pack")
    policy = engine.load_policy(pack)
    assert policy.forms_spec.forms["note-form"].folder == pack / "forms" / "note-form"
    decision = both(policy, PROBE_CASE)
    assert decision["forms"][0]["number"] == "N202409-007"
    assert decision["forms"][0]["copies"] == [{"copy": 1, "holder": "gm", "holder_label": "总经理"}]
    html = render_form(policy, decision, policy.normaliser.case(PROBE_CASE, None, "case")[0], "note-form", "html")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script" not in html


@pytest.mark.parametrize(
    ("entry", "value", "problem"),
    [
        pytest.param("{label: 说明单, fields: {note: other_note}}", "other", None, id="override-a-field-value"),
        pytest.param("{label: 说明单, fields: {nope: other_note}}", None, "has no field 'nope'", id="unknown-field"),
        pytest.param("{label: 说明单, definition: no-such-form}", None, "no-such-form", id="dangling-definition"),
    ],
)
def test_pack_entry_overrides_and_definitions(tmp_path, entry, value, problem):
    pack = write_pack(tmp_path / "pack", entry=entry)
    if problem == "no-such-form":
        (pack / "forms" / "note-form" / "form.yaml").unlink()  # no own folder: the definition is looked up
    result = engine.compile_pack(pack)
    errors = [str(d) for d in result.diagnostics if d.severity == "error"]
    if problem:
        assert any(problem in e and "dangling-ref" in e for e in errors), errors
        return
    assert errors == []
    case = {"facts": {**PROBE_CASE["facts"], "other_note": "other"}}
    assert both(result.policy, case)["forms"][0]["fields"] == {"note": value}


EXTENDS = '{% extends "base.html.j2" %}\n{% block body %}\n'
TEMPLATE_PROBLEMS = [
    pytest.param(
        {"form.html.j2": EXTENDS + "<p>{{ fields[0].value }\n{% endblock %}\n"},
        "form.html.j2",
        3,
        "unexpected '}'",
        id="syntax-error",
    ),
    pytest.param(
        {"form.html.j2": EXTENDS + "<p>{{ fields[0].value }}</p>\n<p>{{ nope }}</p>\n{% endblock %}\n"},
        "form.html.j2",
        4,
        "'nope' is undefined",
        id="undefined-variable",
    ),
    pytest.param(
        {"form.html.j2": EXTENDS + "<p>{{ facts.nope }}</p>\n{% endblock %}\n"},
        "form.html.j2",
        3,
        "has no attribute 'nope'",
        id="undefined-attribute",
    ),
    pytest.param(
        {"form.html.j2": "<p>\n{% if nope %}x{% endif %}\n"},
        "form.html.j2",
        2,
        "'nope' is undefined",
        id="undefined-in-condition",
    ),
    pytest.param(
        {"form.html.j2": "<p>\n\n{{ 1 | no_such_filter }}\n"}, "form.html.j2", 3, "no_such_filter", id="unknown-filter"
    ),
    pytest.param(
        {"form.html.j2": "<p>\n{{ ''.__class__.__mro__ }}\n"}, "form.html.j2", 2, "unsafe", id="sandbox-blocks-dunder"
    ),
    pytest.param(
        {"form.html.j2": '<p>\n{% include "part.j2" %}\n'},
        "form.html.j2",
        2,
        "'part.j2' not found",
        id="missing-include",
    ),
    pytest.param({"form.md.j2": "# x\n{{ nope }}\n"}, "form.md.j2", 2, "'nope' is undefined", id="markdown-undefined"),
    pytest.param(
        {"form.html.j2": '<p>\n{% include "part.j2" %}\n', "part.j2": "a\nb\n{{ oops \n"},
        "part.j2",
        3,
        "unexpected end of template",
        id="syntax-error-in-included-template",
    ),
    pytest.param(
        {"form.html.j2": '<p>\n{% include "part.j2" %}\n', "part.j2": "a\nb\n{{ oops }}\n"},
        "part.j2",
        3,
        "'oops' is undefined",
        id="undefined-in-included-template",
    ),
    pytest.param(
        {"form.html.j2": "<p>\n{{ 1 / 0 }}\n"},
        "form.html.j2",
        2,
        "division by zero",
        id="python-error-in-expression",
    ),
]


@pytest.mark.parametrize(("templates", "culprit", "line", "fragment"), TEMPLATE_PROBLEMS)
def test_template_problems_name_the_file_and_line(tmp_path, templates, culprit, line, fragment):
    pack = write_pack(tmp_path / "pack", templates)
    fmt = "md" if "form.md.j2" in templates else "html"
    where = f"{shown(pack / 'forms' / 'note-form' / culprit)}:{line}:1: template: "
    policy = engine.load_policy(pack)
    decision = policy.evaluate(PROBE_CASE, NOW).to_dict()
    facts, _ = policy.normaliser.case(PROBE_CASE, None, "case")
    with pytest.raises(TemplateProblem) as caught:
        render_form(policy, decision, facts, "note-form", fmt)
    assert str(caught.value).startswith(where) and fragment in str(caught.value), str(caught.value)
    # The CLI: exit 4, the same one line, no traceback, and no output file (nor temporary file) left behind.
    case, out = write_case(tmp_path / "case.json", PROBE_CASE), tmp_path / "out"
    out.mkdir()
    result = run_cli("render", pack, case, "--form", "note-form", "--format", fmt, "--now", NOW, "-o", out / "f")
    assert result.exit_code == 4
    assert result.stderr.startswith(where) and fragment in result.stderr, result.stderr
    assert "Traceback" not in result.output and result.stdout == ""
    assert list(out.iterdir()) == []


def test_failed_render_keeps_the_previous_output_file(tmp_path):
    pack = write_pack(tmp_path / "pack", {"form.html.j2": "{{ nope }}\n"})
    case = write_case(tmp_path / "case.json", PROBE_CASE)
    target = tmp_path / "out" / "form.html"
    target.parent.mkdir()
    target.write_text("previous form\n", encoding="utf-8")
    result = run_cli("render", pack, case, "--form", "note-form", "--now", NOW, "-o", target)
    assert result.exit_code == 4
    assert target.read_text(encoding="utf-8") == "previous form\n"
    assert [p.name for p in target.parent.iterdir()] == ["form.html"]


def test_failed_render_creates_no_folder(tmp_path):
    pack = write_pack(tmp_path / "pack", {"form.html.j2": "{% if %}\n"})
    case = write_case(tmp_path / "case.json", PROBE_CASE)
    result = run_cli("render", pack, case, "--form", "note-form", "--now", NOW, "-o", tmp_path / "new" / "f.html")
    assert result.exit_code == 4 and not (tmp_path / "new").exists()


@pytest.mark.parametrize("fmt", FORMATS)
def test_render_o_writes_the_whole_file(tmp_path, fmt):
    case = write_case(tmp_path / "case.json", pcb_case(case_serial=3))
    args = ("render", PCB, case, "--form", HANDLING, "--format", fmt, "--now", NOW)
    printed = run_cli(*args).stdout
    target = tmp_path / "out" / "sub" / f"form.{fmt}"
    target.parent.mkdir(parents=True)
    target.write_text("an older, longer form that must not leave a tail behind\n" * 200, encoding="utf-8")
    result = run_cli(*args, "-o", target)
    assert result.exit_code == 0 and result.stdout == "" and f"wrote {target}" in result.stderr
    assert target.read_text(encoding="utf-8") == printed
    assert printed.rstrip().endswith("</html>" if fmt == "html" else "pcb-manufacturer 1.0.0")
    assert [p.name for p in target.parent.iterdir()] == [target.name]


def test_render_o_respects_the_umask(tmp_path):
    case = write_case(tmp_path / "case.json", pcb_case())
    fresh, replaced = tmp_path / "fresh.html", tmp_path / "replaced.html"
    replaced.write_text("old\n", encoding="utf-8")
    replaced.chmod(0o644)
    previous = os.umask(0o022)
    try:
        for target in (fresh, replaced):
            assert run_cli("render", PCB, case, "--form", HANDLING, "--now", NOW, "-o", target).exit_code == 0
    finally:
        os.umask(previous)
    assert [oct(p.stat().st_mode & 0o777) for p in (fresh, replaced)] == [oct(0o644), oct(0o644)]


# ------------------------------------------------------------------------------------------------
# 4. Golden files: every bundled form a bundled pack uses, rendered from that pack's example
# ------------------------------------------------------------------------------------------------
class GoldenWritten(UserWarning):
    """ZHIDU_UPDATE_GOLDENS=1 wrote (or removed) a golden file."""


def golden_targets() -> tuple[list, list[str]]:
    """pytest params (pack, form id, fmt) for every form folder under forms/ a bundled pack uses,
    and the packs that failed to load (their goldens cannot be checked)."""
    bundled = bundled_forms().resolve()
    params, broken = [], []
    for pack in engine.bundled_packs():
        try:
            policy = engine.load_policy(pack)
        except ZhiduError as exc:
            broken.append(pack)
            params.append(pytest.param(pack, None, str(exc), id=f"{pack}-does-not-load"))
            continue
        for fid, form in sorted(policy.forms_spec.forms.items() if policy.forms_spec else []):
            if form.folder.resolve().parent != bundled or form.folder.name == "_shared":
                continue  # the pack's own forms/<id>: not a bundled form
            for fmt in FORMATS:
                if fmt in form.templates:
                    params.append(pytest.param(pack, fid, fmt, id=f"{pack}/{fid}.{fmt}"))
    return params, broken


GOLDEN_TARGETS, BROKEN_PACKS = golden_targets()


def golden_path(pack: str, fid: str, fmt: str) -> Path:
    return GOLDENS / pack / f"{fid}.{fmt}"


def golden_case(pack: str, fid: str) -> tuple[Path, str]:
    """The pack's first example that issues the form (else its first example), and its fixed now."""
    examples = sorted((ROOT / "policies" / pack / "examples").glob("*.yaml"))
    if not examples:
        pytest.fail(f"{pack} has no examples/*.yaml to render its forms from", pytrace=False)
    policy = engine.load_policy(pack)
    for path in examples:
        case = load_case(path)
        now = str(case.get("now") or NOW)
        if any(f["id"] == fid for f in policy.evaluate(case, now).to_dict()["forms"]):
            return path, now
    return examples[0], str(load_case(examples[0]).get("now") or NOW)


def render_golden(pack: str, fid: str, fmt: str, workdir: Path) -> str:
    """The form as `zhidu render` writes it, with a fresh numbering database (serial 1 when the case has none)."""
    example, now = golden_case(pack, fid)
    out = workdir / f"{fid}.{fmt}"
    result = run_cli(
        "render", pack, example, "--form", fid, "--format", fmt, "--now", now, "--counter", workdir / "n.db", "-o", out
    )
    assert result.exit_code == 0, result.output
    return out.read_bytes().decode("utf-8")


@pytest.mark.parametrize(("pack", "fid", "fmt"), GOLDEN_TARGETS)
def test_golden(tmp_path, pack, fid, fmt):
    if fid is None:
        pytest.fail(f"{pack} does not load, so its forms cannot be checked:\n{fmt}", pytrace=False)
    text = render_golden(pack, fid, fmt, tmp_path)
    golden = golden_path(pack, fid, fmt)
    name = golden.relative_to(ROOT)
    if UPDATE_GOLDENS:
        before = golden.read_bytes() if golden.is_file() else None
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_bytes(text.encode("utf-8"))
        state = "new" if before is None else "unchanged" if before == text.encode("utf-8") else "changed"
        note = f"wrote {name} ({state}, {len(text.encode('utf-8'))} bytes)"
        warnings.warn(note, GoldenWritten, stacklevel=1)
        return
    if not golden.is_file():
        pytest.fail(
            f"no golden file {name}; create it with\n"
            f"  ZHIDU_UPDATE_GOLDENS=1 python3 -m pytest tests/test_forms.py -k golden\n"
            "then review it and commit it",
            pytrace=False,
        )
    want = golden.read_bytes().decode("utf-8")
    if text != want:
        diff = "".join(
            list(difflib.unified_diff(want.splitlines(True), text.splitlines(True), str(name), "rendered"))[:80]
        )
        pytest.fail(
            f"{name} differs from the rendered form:\n{diff}\n"
            "if the change is intended: ZHIDU_UPDATE_GOLDENS=1 python3 -m pytest tests/test_forms.py -k golden",
            pytrace=False,
        )


def test_golden_files_have_a_form():
    """No stale goldens: every file under tests/goldens/ belongs to a (pack, form, format) above."""
    if BROKEN_PACKS:
        pytest.fail(f"cannot tell stale goldens while packs do not load: {', '.join(BROKEN_PACKS)}", pytrace=False)
    expected = {golden_path(*p.values) for p in GOLDEN_TARGETS}
    stale = sorted(p for p in GOLDENS.rglob("*") if p.is_file() and p not in expected) if GOLDENS.is_dir() else []
    if UPDATE_GOLDENS:
        for path in stale:
            path.unlink()
            note = f"removed stale {path.relative_to(ROOT)}"
            warnings.warn(note, GoldenWritten, stacklevel=1)
        return
    assert not stale, "golden files without a form (delete them, or run with ZHIDU_UPDATE_GOLDENS=1): " + ", ".join(
        str(p.relative_to(ROOT)) for p in stale
    )


# ------------------------------------------------------------------------------------------------
# 5. Seen in a real browser: headless Chromium draws every golden HTML page, Chinese text included
# ------------------------------------------------------------------------------------------------
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "/usr/bin/chromium")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=900,1200",
)
IDEOGRAPHS = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
TITLE_ROWS = 56  # the <h1> title (18pt) sits in the first rows of a 900x1200 screenshot
HTML_TARGETS = [p for p in GOLDEN_TARGETS if p.values[2] == "html"]


def find_browser() -> str | None:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    return None


def decode_png(path: Path) -> tuple[int, int, list[bytes]]:
    """Width, height and RGB(A) rows of an 8-bit, non-interlaced truecolour PNG (what Chromium writes)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    pos, idat, header = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
    assert header is not None, f"{path}: no IHDR"
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, f"{path}: unsupported PNG {header}"
    bpp = 3 if colour == 2 else 4
    raw, stride = zlib.decompress(b"".join(idat)), width * bpp
    rows, prior, zero, pos = [], bytes(stride), bytes(stride), 0
    for _ in range(height):
        kind, line = raw[pos], raw[pos + 1 : pos + 1 + stride]
        pos += 1 + stride
        if kind == 0:
            row = line
        elif kind == 2 and line == zero:
            row = prior
        elif kind == 2:
            row = bytes([(a + b) & 255 for a, b in zip(line, prior, strict=True)])
        else:
            out = bytearray(line)
            for x in range(stride):
                left = out[x - bpp] if x >= bpp else 0
                if kind == 1:
                    out[x] = (out[x] + left) & 255
                elif kind == 3:
                    out[x] = (out[x] + ((left + prior[x]) >> 1)) & 255
                elif kind == 4:
                    up, corner = prior[x], prior[x - bpp] if x >= bpp else 0
                    p = left + up - corner
                    pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                    out[x] = (out[x] + (left if pa <= pb and pa <= pc else up if pb <= pc else corner)) & 255
                else:
                    raise AssertionError(f"{path}: bad PNG filter {kind}")
            row = bytes(out)
        rows.append(row)
        prior = row
    return width, height, [r if bpp == 3 else bytes(b for i, b in enumerate(r) if i % 4 != 3) for r in rows]


def dark_pixels(rows: list[bytes]) -> int:
    """Pixels darker than mid-grey (text, rules and borders on a white page)."""
    return sum(1 for row in rows for x in range(0, len(row), 3) if row[x] + row[x + 1] + row[x + 2] < 384)


def screenshot(browser: str, html: Path, png: Path, profile: Path, env: dict[str, str] | None = None) -> str:
    cmd = [browser, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--screenshot={png}", html.as_uri()]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False, env=env)  # noqa: S603
    if done.returncode != 0 or not png.is_file():
        return f"{' '.join(cmd)} exited {done.returncode}:\n{done.stderr[-2000:]}"
    return ""


def fonts_without_cjk(folder: Path) -> dict[str, str] | None:
    """An environment whose fontconfig sees only the installed fonts without Chinese (None when that cannot
    be arranged): what a machine without fonts-noto-cjk shows."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return None

    def files(*pattern: str) -> set[str]:
        done = subprocess.run(
            [fc_list, *pattern, "--format", "%{file}\\n"], capture_output=True, text=True, check=False
        )  # noqa: S603
        return set(done.stdout.split("\n")) - {""}

    keep = sorted(files() - files(":lang=zh"))
    if not keep:
        return None
    (folder / "fonts").mkdir(parents=True)
    for i, font in enumerate(keep):
        (folder / "fonts" / f"{i}-{Path(font).name}").symlink_to(font)
    (folder / "fonts.conf").write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n'
        f"  <dir>{folder / 'fonts'}</dir>\n  <cachedir>{folder / 'cache'}</cachedir>\n</fontconfig>\n",
        encoding="utf-8",
    )
    return {**os.environ, "FONTCONFIG_FILE": str(folder / "fonts.conf")}


NO_CJK_FONT = "_no_cjk_font"


@pytest.fixture(scope="module")
def browser_pages(tmp_path_factory) -> dict[str, dict[str, object]]:
    """Screenshots of every golden HTML page, as is and with every ideograph replaced by 田, plus the first
    page again without CJK fonts. Taken once, one Chromium process per screenshot, four at a time. Each
    value is (width, height, rows), or the error text of a failed run."""
    browser = find_browser()
    if browser is None:
        pytest.skip(
            "no Chromium executable (looked for " + ", ".join(BROWSERS) + "); CI installs the Debian packages "
            "chromium and fonts-noto-cjk, see docs/forms.md"
        )
    work = tmp_path_factory.mktemp("browser")
    jobs: list[tuple[str, str, Path, dict[str, str] | None]] = []  # page, variant, html, environment
    for param in HTML_TARGETS:
        pack, fid, _ = param.values
        golden = golden_path(pack, fid, "html") if fid else None
        if golden is None or not golden.is_file():
            continue
        text = golden.read_text(encoding="utf-8")
        for variant, html in (
            ("as-is", text),
            ("swapped", IDEOGRAPHS.sub("田", text)),
        ):
            path = work / f"{pack}--{fid}--{variant}.html"
            path.write_text(html, encoding="utf-8")
            jobs.append((f"{pack}/{fid}", variant, path, None))
    no_cjk = fonts_without_cjk(work / "no-cjk") if jobs else None
    if no_cjk:
        jobs += [(NO_CJK_FONT, variant, html, no_cjk) for _, variant, html, _ in jobs[:2]]

    def shoot(i: int) -> object:
        _, _, html, env = jobs[i]
        png = work / f"{i}.png"
        return screenshot(browser, html, png, work / f"{i}.profile", env) or decode_png(png)

    with ThreadPoolExecutor(max_workers=4) as pool:
        shots = list(pool.map(shoot, range(len(jobs))))
    pages: dict[str, dict[str, object]] = {}
    for (page, variant, _, _), shot in zip(jobs, shots, strict=True):
        pages.setdefault(page, {})[variant] = shot
    return pages


@pytest.mark.parametrize(("pack", "fid", "fmt"), HTML_TARGETS)
def test_golden_html_is_drawn_in_chromium_with_chinese_text(browser_pages, pack, fid, fmt):
    if fid is None:
        pytest.fail(f"{pack} does not load", pytrace=False)
    shots = browser_pages.get(f"{pack}/{fid}")
    if shots is None:
        pytest.fail(f"no golden {golden_path(pack, fid, fmt).relative_to(ROOT)} to show in the browser", pytrace=False)
    for variant, shot in shots.items():
        assert not isinstance(shot, str), f"{variant}: {shot}"
    (width, height, rows), (_, _, swapped) = shots["as-is"], shots["swapped"]
    assert (width, height) == (900, 1200)
    # Non-blank: text, rules and borders are drawn.
    ink = dark_pixels(rows)
    assert ink > 2000 and len(set(rows)) > 50, f"the page looks blank ({ink} dark pixels)"
    # The Chinese title is drawn: the <h1> rows carry ink...
    title = dark_pixels(rows[:TITLE_ROWS])
    assert title > 400, f"the title rows hold only {title} dark pixels: is the title drawn?"
    # ...in real glyphs: without a CJK font Chromium draws the same empty box (tofu) for every character,
    # so swapping every ideograph for 田 would change nothing. With a CJK font the pixels change.
    assert dark_pixels(swapped[:TITLE_ROWS]) > 400 and rows[:TITLE_ROWS] != swapped[:TITLE_ROWS], (
        "the title looks the same whatever its characters are: tofu boxes? install a CJK font (fonts-noto-cjk)"
    )


def test_the_browser_check_notices_a_missing_cjk_font(browser_pages):
    """Negative control: without a Chinese font Chromium draws the same box for every character, and the
    comparison above sees that (the page is shown with fontconfig limited to the fonts without Chinese)."""
    shots = browser_pages.get(NO_CJK_FONT)
    if shots is None:
        pytest.skip("cannot hide the CJK fonts from Chromium here (needs fc-list and a font without Chinese)")
    for variant, shot in shots.items():
        assert not isinstance(shot, str), f"{variant}: {shot}"
    rows, swapped = shots["as-is"][2], shots["swapped"][2]
    assert dark_pixels(rows) > 2000  # the page is drawn...
    assert rows[:TITLE_ROWS] == swapped[:TITLE_ROWS]  # ...but its Chinese title is tofu, whatever the characters


BAD_NUMBERING = [
    ("attribute-in-pattern", 'pattern: "Q{serial.x}", serial: ticket_serial', "bad numbering pattern"),
    ("index-in-pattern", 'pattern: "Q{serial[0]}", serial: ticket_serial', "bad numbering pattern"),
    ("text-serial", 'pattern: "Q{serial:03d}", serial: customer_note', "expected integer"),
]


@pytest.mark.parametrize("numbering,fragment", [b[1:] for b in BAD_NUMBERING], ids=[b[0] for b in BAD_NUMBERING])
def test_bad_numbering_is_a_located_validation_error(tmp_path, numbering, fragment):
    pack = write_pack(tmp_path / "pack")
    path = pack / "forms" / "note-form" / "form.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(
        text.replace('pattern: "N{yyyy}{mm}-{serial:03d}", date: received_at, serial: ticket_serial', numbering),
        encoding="utf-8",
    )
    errors = engine.compile_pack(pack).errors
    assert errors and all(e.location.file.endswith("form.yaml") and e.location.line == 4 for e in errors)
    assert any(fragment in e.message for e in errors), [e.message for e in errors]
