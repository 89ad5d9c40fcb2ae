"""The due list's horizon: "within 2wd" counted on each pack's own business calendar."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from ..durations import CALENDAR, MONTH, parse_duration
from ..errors import ZhiduError
from .db import RegisterError


def horizon(register: Any, text: str) -> Callable[[str, datetime], datetime]:
    """`at` + the duration, for a pack: working days and business hours on the pack's first calendar."""
    try:
        duration = parse_duration(text)
    except ZhiduError as exc:
        import click

        raise click.BadParameter(str(exc), param_hint="--within") from None

    def until(pack_id: str, at: datetime) -> datetime:
        if duration.kind == CALENDAR:
            return at + duration.to_timedelta()
        policy = register.latest_policy(pack_id)
        calendars = policy.sla.calendars if policy and policy.sla else {}
        if duration.kind == MONTH:
            from ..sla import _plain_add

            return _plain_add(at, duration, policy.timezone if policy else at.tzinfo)
        if not calendars:
            raise RegisterError(
                f"--within {text}: pack '{pack_id}' has no business calendar to count {text} on", code="no-calendar"
            )
        return next(iter(calendars.values())).add(at, duration)

    return until
