"""Printing a registered case's form: the case's own pack version, facts and decision on record."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from ..evaluate import decide_with_findings, resolve_now
from ..forms import render
from ..register.packs import policy_of
from ..register.schema import pack_versions
from ..register.store import CaseView, Register


def render_case_form(register: Register, view: CaseView, form_id: str, fmt: str) -> str:
    """`zhidu render` for a case on record. A thin adapter: the register has no printing API of its own."""

    def blob() -> bytes:
        with register.reader.connect() as conn:
            return conn.execute(
                sa.select(pack_versions.c.files).where(
                    pack_versions.c.pack_id == view.pack_id, pack_versions.c.content_hash == view.content_hash
                )
            ).scalar_one()

    policy = policy_of(view.pack_id, view.content_hash, blob)
    decision: dict[str, Any] = view.decision or {}
    facts, _ = policy.normaliser.case({"facts": view.facts})
    moment = resolve_now(policy, decision.get("evaluated_at"), {}, "<decision>")
    # The typed findings at the decision's own time (the stored decision holds only their JSON form).
    fresh, findings = decide_with_findings(policy, facts, view.number, moment, engine=register.engine_name)
    return render(policy, decision or fresh.to_dict(), facts, form_id, fmt, None, findings)
