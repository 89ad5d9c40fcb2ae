"""Who may call what: bearer tokens checked against the token store, roles ranked viewer < operator < admin."""

import threading
import time
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from .problems import Problem
from .tokens import RANK, TokenRecord, TokenStore

bearer = HTTPBearer(auto_error=False, description="a token from `zhidu tokens create`")
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="zhidu"'}


class Authenticator:
    """Looks tokens up by digest; an answer is kept for a few seconds so a busy service does not ask the
    database on every request (a revoked token stops working within that time: docs/service.md)."""

    def __init__(self, store: TokenStore, ttl: float) -> None:
        self.store = store
        self.ttl = ttl
        self._cache: dict[str, tuple[float, TokenRecord | None]] = {}
        self._lock = threading.Lock()

    def check(self, token: str) -> TokenRecord | None:
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(token)
        if hit is not None and now - hit[0] < self.ttl:
            return hit[1]
        record = self.store.lookup(token)
        with self._lock:
            if len(self._cache) > 10_000:  # bounded: unknown tokens sent in bulk must not grow memory
                self._cache.clear()
            self._cache[token] = (now, record)
        return record


def require(role: str) -> Callable[..., Any]:
    """A dependency that answers 401 without a valid token and 403 when the token's role ranks below `role`."""

    # async: FastAPI would run a plain function in its thread pool, a hop that cost more than the check itself
    # (the token lookup is cached; a miss is one indexed query).
    async def dependency(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
    ) -> TokenRecord:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise Problem(401, "unauthenticated", "send a token: Authorization: Bearer <token>", headers=CHALLENGE)
        auth: Authenticator = request.app.state.auth
        record = auth.check(credentials.credentials)
        if record is None:
            raise Problem(401, "bad-token", "the token is unknown or revoked", headers=CHALLENGE)
        if RANK[record.role] < RANK[role]:
            raise Problem(403, "forbidden", f"this needs the {role} role; the token '{record.name}' is {record.role}")
        request.state.token = record
        return record

    dependency.__name__ = f"require_{role}"
    return dependency


Viewer = Annotated[TokenRecord, Depends(require("viewer"))]
Operator = Annotated[TokenRecord, Depends(require("operator"))]
Admin = Annotated[TokenRecord, Depends(require("admin"))]
