"""zhidu's engine: load a policy pack once, evaluate many cases against it."""

from .compiler import Compilation, compile_pack, load_policy
from .decision import Decision, decision_schema
from .errors import CaseError, Diagnostic, EvaluationError, Location, PolicyError, ZhiduError
from .loader import bundled_packs
from .policy import ENGINES, Policy

__version__ = "0.1.0"

__all__ = [
    "ENGINES",
    "CaseError",
    "Compilation",
    "Decision",
    "Diagnostic",
    "EvaluationError",
    "Location",
    "Policy",
    "PolicyError",
    "ZhiduError",
    "bundled_packs",
    "compile_pack",
    "decision_schema",
    "load_policy",
    "__version__",
]
