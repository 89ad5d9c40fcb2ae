"""The database the service keeps its tokens in: the register's (INTERIM resolution until the register lands)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import sqlalchemy as sa

ENV_URL = "ZHIDU_DATABASE_URL"
_engines: dict[str, sa.Engine] = {}
_lock = threading.Lock()


def resolve_url(url: str | None) -> str:
    """An explicit URL or path, else $ZHIDU_DATABASE_URL, else the register's default SQLite file."""
    value = url or os.environ.get(ENV_URL)
    if not value:
        base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
        value = str(Path(base) / "zhidu" / "register.db")
    if "://" not in value:
        path = Path(value).expanduser().resolve()
        path.parent.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{path}"
    if value.startswith(("postgresql://", "postgres://")):
        value = "postgresql+psycopg://" + value.split("://", 1)[1]
    return value


def connect(url: str | None) -> sa.Engine:
    """One SQLAlchemy engine per URL and process."""
    resolved = resolve_url(url)
    with _lock:
        if resolved not in _engines:
            args = {"timeout": 30} if resolved.startswith("sqlite") else {}
            _engines[resolved] = sa.create_engine(resolved, connect_args=args, pool_pre_ping=True)
        return _engines[resolved]
