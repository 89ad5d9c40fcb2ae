"""zhidu: load a policy pack once, evaluate many cases against it (installed as `zhidu`; `engine` in the source tree)."""

from .compiler import Compilation, compile_pack, load_policy
from .decision import Decision, decision_schema
from .engines import ALL_ENGINES, DEFAULT_ENGINE, durable_unavailable
from .errors import (
    CaseError,
    Diagnostic,
    EngineUnavailable,
    EvaluationError,
    Location,
    PolicyError,
    ZhiduError,
)
from .loader import bundled_packs
from .policy import ENGINES, Policy

__version__ = "0.1.0"

__all__ = [
    "ALL_ENGINES",
    "DEFAULT_ENGINE",
    "ENGINES",
    "CaseError",
    "Compilation",
    "Decision",
    "Diagnostic",
    "EngineUnavailable",
    "EvaluationError",
    "Location",
    "Policy",
    "PolicyError",
    "ZhiduError",
    "bundled_packs",
    "compile_pack",
    "decision_schema",
    "durable_unavailable",
    "load_policy",
    "__version__",
]
