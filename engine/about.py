"""What this installation has: version, Python, rule engines and holiday data (`zhidu --version`)."""

from __future__ import annotations

import platform
from importlib import metadata

from .calendar import holiday_coverage
from .engines import DEFAULT_ENGINE, durable_unavailable

# Where each built-in holiday source comes from: (distribution, what it covers).
HOLIDAY_PACKAGES = {"cn": ("chinesecalendar", "mainland China public holidays and 调休 working days")}


def _installed(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "version unknown"


def version_report(version: str) -> str:
    """Lines for `zhidu --version`: the version, the engines this Python can run, the holiday years covered."""
    lines = [f"zhidu {version} (Python {platform.python_version()})", "engines:"]
    lines.append(f"  python: the pure-Python evaluator{' (default)' if DEFAULT_ENGINE == 'python' else ''}")
    reason = durable_unavailable()
    if reason is None:
        lines.append(f"  durable: durable-rules {_installed('durable_rules')} (cross-check)")
    else:
        lines.append(f"  durable: unavailable: {reason}")
    lines.append("holiday data:")
    for source, (first, last) in sorted(holiday_coverage().items()):
        distribution, what = HOLIDAY_PACKAGES.get(source, (source, "holidays"))
        lines.append(f"  {source}: {first}-{last}, {what} ({distribution} {_installed(distribution)})")
    return "\n".join(lines)
