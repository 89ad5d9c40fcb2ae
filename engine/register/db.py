"""Connecting to the register's database: URL and default location, SQLite settings, migrations."""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine

from ..errors import ZhiduError

ENV_URL = "ZHIDU_DATABASE_URL"
HEAD = "0002"  # 0002: the HTTP service's tokens (engine/service)


class RegisterError(ZhiduError):
    """The register refused an operation (bad input, unknown case, database problem)."""

    exit_code = 9
    default_code = "register"

    def __init__(self, diagnostics: Any, code: str | None = None):
        # A plain message has no file to point at: it is printed as `code: message`.
        if isinstance(diagnostics, str):
            diagnostics = f"{code or self.default_code}: {diagnostics}"
        super().__init__(diagnostics, code)


class ConflictError(RegisterError):
    """An event was based on a case version that is no longer the latest: re-read the case and retry."""

    exit_code = 10
    default_code = "conflict"


def default_path() -> Path:
    """$XDG_DATA_HOME/zhidu/register.db (~/.local/share/zhidu/register.db when XDG_DATA_HOME is unset)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "zhidu" / "register.db"


def resolve_url(url: str | None) -> str:
    """An explicit URL or path, else $ZHIDU_DATABASE_URL, else the default SQLite file."""
    value = url or os.environ.get(ENV_URL) or str(default_path())
    if "://" not in value:
        path = Path(value).expanduser()
        return f"sqlite:///{path.resolve()}"
    if value.startswith("postgresql://") or value.startswith("postgres://"):
        # psycopg 3 is the driver the register supports; plain postgresql:// would ask for psycopg2.
        value = "postgresql+psycopg://" + value.split("://", 1)[1]
    return value


def utc(moment: datetime) -> datetime:
    """Instants are stored in UTC: SQLite keeps no offset, and sorted text must sort in time."""
    if moment.tzinfo is None:
        raise RegisterError(f"{moment.isoformat()}: a time needs its UTC offset")
    return moment.astimezone(UTC)


def aware(moment: datetime | None) -> datetime | None:
    """A stored instant back as an aware datetime (SQLite returns it naive, in UTC)."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


_engines: dict[str, Engine] = {}
_upgraded: set[str] = set()
_lock = threading.Lock()


def connect(url: str | None = None, *, upgrade: bool = True) -> Engine:
    """One Engine per URL and process; the schema is brought to the head revision on first use."""
    resolved = resolve_url(url)
    with _lock:
        eng = _engines.get(resolved)
        if eng is None:
            eng = _make_engine(resolved)
            _engines[resolved] = eng
        if upgrade and resolved not in _upgraded:
            migrate(eng)
            _upgraded.add(resolved)
    return eng


def _make_engine(url: str) -> Engine:
    try:
        if url.startswith("sqlite"):
            path = url.split(":///", 1)[1] if ":///" in url else ""
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            eng = sa.create_engine(url, connect_args={"timeout": 60})
            _sqlite_settings(eng)
            return eng
        return sa.create_engine(url, pool_pre_ping=True)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, OSError) as exc:
        raise RegisterError(f"{url}: cannot use this database URL: {exc}", code="bad-database-url") from None


def _sqlite_settings(eng: Engine) -> None:
    """WAL (readers never wait for the writer), foreign keys, and BEGIN IMMEDIATE so two writers queue
    for the lock at the start of a transaction instead of failing half-way (SQLAlchemy's documented recipe)."""

    @event.listens_for(eng, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(eng, "begin")
    def _on_begin(conn: Any) -> None:
        # Readers (Register.reader) take no write lock: under WAL they see the last commit and never wait.
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get("zhidu_read") else "BEGIN IMMEDIATE")


def _alembic_config(connection: sa.Connection) -> Any:
    from alembic.config import Config

    cfg = Config()
    # __package__ is engine.register in the source tree and zhidu.register installed
    cfg.set_main_option("script_location", str(resources.files(__package__).joinpath("migrations")))
    cfg.attributes["connection"] = connection
    cfg.attributes["metadata"] = _metadata()
    return cfg


def _metadata() -> Any:
    from .schema import metadata

    return metadata


def migrate(eng: Engine) -> str:
    """Bring the schema to the head revision (idempotent; concurrent first uses wait for each other)."""
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    try:
        with eng.begin() as conn:
            if eng.dialect.name == "postgresql":
                # Two processes opening a new database at once: one migrates, the other waits.
                conn.exec_driver_sql("SELECT pg_advisory_xact_lock(727172)")
            current = MigrationContext.configure(conn).get_current_revision()
            if current != HEAD:
                command.upgrade(_alembic_config(conn), "head")
            return HEAD
    except sa.exc.OperationalError as exc:
        raise RegisterError(f"{eng.url.render_as_string()}: cannot open the register: {exc.orig}") from None


def current_revision(eng: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with eng.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
