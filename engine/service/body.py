"""Request bodies: JSON only, bounded in size, parsed with source positions so errors point into the body."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from fastapi import Request
from pydantic import ValidationError

from ..errors import Diagnostic, Location, json_path
from ..source import SourceMap, load_json, parse_json
from .problems import Problem

BODY = "body"  # the file name errors in a request body are reported under: body:3:14: case-invalid: ...


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


@dataclass
class Body:
    """A JSON body. Source positions cost ten times the parse, so they are computed only to locate an error."""

    text: str
    data: Any

    @cached_property
    def smap(self) -> SourceMap:
        return parse_json(self.text, BODY)[1]


async def read_bytes(request: Request, limit: int) -> bytes:
    """The whole body, refused with 413 past `limit` bytes: declared (Content-Length) or counted while reading."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise Problem(413, "body-too-large", f"the body has {declared} bytes; the limit is {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Problem(413, "body-too-large", f"the body passed the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_json(request: Request, limit: int) -> Body:
    """The parsed body; 415 for another media type, 413 past `limit` bytes, 400 for text that is not JSON."""
    content_type = request.headers.get("content-type", "")
    if not _is_json(content_type):
        raise Problem(
            415,
            "unsupported-media-type",
            f"send JSON (Content-Type: application/json), not {content_type or 'nothing'}",
        )
    try:
        text = (await read_bytes(request, limit)).decode("utf-8")
    except UnicodeDecodeError as exc:
        diag = Diagnostic(Location(BODY, 1, 1), "encoding", f"not UTF-8 text: {exc.reason}")
        raise Problem(400, "encoding", diag.message, [diag]) from None
    try:
        return Body(text, load_json(text))
    except ValueError:
        _, _, diags = parse_json(text, BODY)  # the same reading, with the line and column of the mistake
        raise Problem(400, diags[0].code, diags[0].message, diags) from None


def require_mapping(data: Any, what: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        diag = Diagnostic(Location(BODY, 1, 1), "case-invalid", f"{what} must be a JSON object")
        raise Problem(422, "case-invalid", diag.message, [diag])
    return data


def shape_errors(exc: ValidationError) -> Problem:
    """A body of the wrong shape (pydantic's errors), located by JSON path in the body."""
    diags = [
        Diagnostic(Location(BODY, 1, 1, json_path(list(e["loc"]))), "invalid-body", str(e["msg"])) for e in exc.errors()
    ]
    return Problem(422, "invalid-body", diags[0].message if len(diags) == 1 else f"{len(diags)} problems", diags)
