"""Register test databases: a fresh SQLite file per test, and one PostgreSQL database per session
(random name on 127.0.0.1:5432, dropped at the end; tables emptied between tests). PostgreSQL tests fail,
not skip, when no server answers: set ZHIDU_TEST_POSTGRES=0 to leave them out knowingly."""

from __future__ import annotations

import os
import secrets

import pytest

PG_ADMIN = os.environ.get("ZHIDU_TEST_PG_ADMIN", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
DIALECTS = ["sqlite"] + ([] if os.environ.get("ZHIDU_TEST_POSTGRES") == "0" else ["postgresql"])


@pytest.fixture(scope="session")
def pg_database():
    import sqlalchemy as sa

    name = "zhidu_test_" + secrets.token_hex(6)
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError as exc:
        pytest.fail(f"PostgreSQL at {PG_ADMIN} does not answer ({exc.orig}); start it or set ZHIDU_TEST_POSTGRES=0")
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    yield url
    from engine.register import db

    eng = db._engines.pop(url, None)
    if eng is not None:
        eng.dispose()
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture(params=DIALECTS)
def db_url(request, tmp_path):
    """A register URL with empty tables, on each database."""
    if request.param == "sqlite":
        return str(tmp_path / "register.db")
    url = request.getfixturevalue("pg_database")
    from engine.register.db import connect
    from engine.register.schema import metadata

    eng = connect(url)
    names = ", ".join(t.name for t in metadata.sorted_tables)
    with eng.begin() as conn:
        conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    return url
