"""YAML the importers write: exact decimals, keys in the order given, chosen values on one line."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import yaml


class Inline:
    """A value written in flow style (one line) inside a block document: a table row, a list of outputs."""

    def __init__(self, value: Any):
        self.value = value


class _Dumper(yaml.SafeDumper):
    pass


def _decimal(dumper: yaml.SafeDumper, value: Decimal) -> Any:
    return dumper.represent_scalar("tag:yaml.org,2002:float", str(value))


def _inline(dumper: yaml.SafeDumper, value: Inline) -> Any:
    inner = value.value
    if isinstance(inner, dict):
        return dumper.represent_mapping("tag:yaml.org,2002:map", inner.items(), flow_style=True)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", inner, flow_style=True)


_Dumper.add_representer(Decimal, _decimal)
_Dumper.add_representer(Inline, _inline)


def dump_yaml(data: Any, width: int = 120) -> str:
    return yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=width)
