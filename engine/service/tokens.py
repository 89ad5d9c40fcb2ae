"""Bearer tokens for the service: stored as SHA-256 digests, each with a role; created, listed and revoked."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from ..errors import ZhiduError

# The table is declared with the register's (created by its migration 0002): the service keeps its tokens in
# the register's database, so one backup and one PostgreSQL serve both.
from ..register.schema import service_tokens

ROLES = ("viewer", "operator", "admin")
RANK = {role: i for i, role in enumerate(ROLES)}
PREFIX = "zhidu_"


class TokenError(ZhiduError):
    """A token command was refused (unknown role or token id)."""

    exit_code = 2
    default_code = "token"


@dataclass(frozen=True)
class TokenRecord:
    """What is stored about a token: never the token itself."""

    id: str
    name: str
    role: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
        }


def digest(token: str) -> str:
    # Tokens are 256 random bits, so a fast hash is enough: no dictionary to slow down, unlike passwords.
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _record(row: Any) -> TokenRecord:
    return TokenRecord(row.id, row.name, row.role, _aware(row.created_at), row.created_by, _aware(row.revoked_at))  # type: ignore[arg-type]


class TokenStore:
    """Tokens in the register's database (SQLite file or PostgreSQL), migrated by the register."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine  # from engine.register.db.connect: migrated to the register's head (0002 or later)

    def create(self, name: str, role: str, *, actor: str, now: datetime) -> tuple[TokenRecord, str]:
        """A new token: the record, and the token text (shown once; only its digest is kept)."""
        if role not in RANK:
            raise TokenError(f"unknown role '{role}': choose {', '.join(ROLES)}", code="unknown-role")
        name = name.strip()
        if not name:
            raise TokenError("a token needs a name (who or what uses it)", code="token-name")
        token = PREFIX + secrets.token_urlsafe(32)
        record = TokenRecord(secrets.token_hex(6), name, role, now.astimezone(UTC), actor, None)
        with self.engine.begin() as conn:
            conn.execute(
                service_tokens.insert().values(
                    id=record.id,
                    name=name,
                    role=role,
                    token_sha256=digest(token),
                    created_at=record.created_at,
                    created_by=actor,
                )
            )
        return record, token

    def list(self) -> list[TokenRecord]:
        with self.engine.connect() as conn:
            rows = conn.execute(service_tokens.select().order_by(service_tokens.c.created_at, service_tokens.c.id))
            return [_record(r) for r in rows]

    def revoke(self, token_id: str, *, now: datetime) -> TokenRecord:
        with self.engine.begin() as conn:
            row = conn.execute(service_tokens.select().where(service_tokens.c.id == token_id)).first()
            if row is None:
                raise TokenError(f"no token with id '{token_id}' (see `zhidu tokens list`)", code="token-not-found")
            if row.revoked_at is None:
                conn.execute(
                    service_tokens.update()
                    .where(service_tokens.c.id == token_id)
                    .values(revoked_at=now.astimezone(UTC))
                )
            row = conn.execute(service_tokens.select().where(service_tokens.c.id == token_id)).one()
        return _record(row)

    def lookup(self, token: str) -> TokenRecord | None:
        """The active token with this text, or None (unknown or revoked)."""
        if not token.startswith(PREFIX) or len(token) > 200:
            return None
        with self.engine.connect() as conn:
            row = conn.execute(service_tokens.select().where(service_tokens.c.token_sha256 == digest(token))).first()
        if row is None or row.revoked_at is not None:
            return None
        return _record(row)
