"""Where the bundled data lives: inside `zhidu` when installed, beside `engine/` in the source tree."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

# "zhidu" when installed (the wheel maps engine/ to zhidu/), "engine" when run from the repository.
PACKAGE = __package__ or "engine"


# The repository's data folders and the subpackages they become in the wheel (pyproject's package-dir):
# forms/ cannot be zhidu/forms/, which is the engine's forms module.
INSTALLED_NAMES = {"policies": "policies", "forms": "form_definitions"}


def data_dir(name: str) -> Path:
    """A bundled data folder, `policies` or `forms`: inside zhidu installed, <repo>/<name>/ in the source tree.

    In the source tree the folder is found beside engine/ rather than imported by its top-level name, so an
    unrelated `policies` or `forms` package elsewhere on sys.path is never picked up."""
    if PACKAGE == "engine":
        return Path(__file__).resolve().parent.parent / name
    return Path(str(resources.files(f"{PACKAGE}.{INSTALLED_NAMES[name]}")))


def schema_text(name: str) -> str:
    """The text of a JSON Schema shipped in the package's schemas/ folder."""
    return resources.files(PACKAGE).joinpath("schemas", name).read_text(encoding="utf-8")


def load_schema(name: str) -> dict[str, Any]:
    return json.loads(schema_text(name))
