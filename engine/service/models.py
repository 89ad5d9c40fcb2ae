"""Typed shapes of the service's answers: FastAPI writes them into the OpenAPI 3.1 document."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorItem(Strict):
    """One located diagnostic, as `zhidu validate --format json` prints it."""

    file: str
    line: int
    column: int
    path: str
    code: str
    message: str
    severity: str


class ProblemDetails(Strict):
    """RFC 9457 problem details, with the CLI's error code and its located diagnostics."""

    type: str
    title: str
    status: int
    detail: str
    code: str = Field(description="the same code the CLI prints, e.g. case-invalid, bad-token, pack-not-found")
    errors: list[ErrorItem]
    instance: str | None = None


class Health(Strict):
    status: Literal["ok"]


class Ready(Strict):
    status: Literal["ready"]
    packs: int
    database: Literal["ok", "not configured"]


class PackSummary(Strict):
    id: str
    version: str
    title: str
    title_en: str
    timezone: str
    effective_from: str | None


class SourceLocation(Strict):
    file: str
    line: int
    column: int
    path: str


class Entry(Strict):
    """One entry of a pack section: its id, label, the clause it encodes and where it is written."""

    id: str
    label: str | None
    label_en: str | None
    ref: str | None
    location: SourceLocation
    definition: dict[str, Any]


class Role(Strict):
    id: str
    label: str
    label_en: str


class PackDescription(PackSummary):
    roles: list[Role]
    rules: list[Entry]
    tables: list[Entry]
    timers: list[Entry]
    routes: list[Entry]
    duties: list[Entry]
    authority: list[Entry]
    penalties: list[Entry]
    forms: list[Entry]


class TokenInfo(Strict):
    id: str
    name: str
    role: Literal["viewer", "operator", "admin"]
    created_at: str
    created_by: str
    revoked_at: str | None


class NewToken(Strict):
    name: str = Field(min_length=1, max_length=200)
    role: Literal["viewer", "operator", "admin"]


class CreatedToken(TokenInfo):
    token: str = Field(description="shown once; only its SHA-256 digest is stored")
