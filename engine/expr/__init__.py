"""The condition language: parse → type-check → IR, shared by both rule evaluators."""

from .check import Scope, check
from .ir import Node
from .parser import ExprError, parse

__all__ = ["ExprError", "Node", "Scope", "check", "parse"]
