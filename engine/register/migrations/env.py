"""Alembic environment: migrations run on the connection the register hands over (never from a URL in a file)."""

from __future__ import annotations

from alembic import context

# Alembic runs this file as a script (no package, so no relative import): the register hands over its
# schema with the connection, whatever the package is called (engine in the source tree, zhidu installed).
metadata = context.config.attributes["metadata"]
connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
