"""`python -m zhidu`: the command line."""

from .cli import run

run()
