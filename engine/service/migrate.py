"""Bring the register's database to the newest migration, including the service's own (0002, tokens).

A thin adapter: the register upgrades only when a database is not at its own `db.HEAD`, so a database made
before migration 0002 existed would never get the token table. This asks Alembic for the real head instead."""

from __future__ import annotations

import sqlalchemy as sa

from ..register.db import RegisterError, _alembic_config


def upgrade_to_head(engine: sa.Engine) -> None:
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    try:
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                conn.exec_driver_sql("SELECT pg_advisory_xact_lock(727172)")  # the register's migration lock
            cfg = _alembic_config(conn)
            head = ScriptDirectory.from_config(cfg).get_current_head()
            if MigrationContext.configure(conn).get_current_revision() != head:
                command.upgrade(cfg, "head")
    except sa.exc.OperationalError as exc:
        raise RegisterError(f"{engine.url.render_as_string()}: cannot open the register: {exc.orig}") from None
