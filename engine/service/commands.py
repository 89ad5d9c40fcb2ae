"""`zhidu serve` and `zhidu tokens`: the service's commands, added to the CLI by cli.py."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Any

import click

from .settings import DEFAULT_MAX_BODY, ENV, Settings

DB_OPTION = click.option(
    "--db",
    "db_url",
    envvar="ZHIDU_DATABASE_URL",
    help="the register's database: a SQLite path or a URL (postgresql://...); default $ZHIDU_DATABASE_URL, "
    "else ~/.local/share/zhidu/register.db",
)


def _missing_extra(exc: ImportError) -> click.ClickException:
    return click.ClickException(f"the service needs its extra: pip install 'zhidu[serve]' ({exc.name} is missing)")


def build(command_cls: type[click.Command]) -> list[click.Command]:
    """The `serve` command and the `tokens` group, made with the CLI's command class (one error mapping)."""

    @click.command("serve", cls=command_cls)
    @click.option("--host", default="127.0.0.1", show_default=True, help="address to listen on")
    @click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
    @click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64), help="worker processes")
    @DB_OPTION
    @click.option("--pack", "packs", multiple=True, help="a pack to serve (repeat; default: every bundled pack)")
    @click.option(
        "--max-body", default=DEFAULT_MAX_BODY, show_default=True, type=click.IntRange(1024), help="largest body, bytes"
    )
    @click.option(
        "--engine",
        "engine_name",
        type=click.Choice(["python", "durable"]),
        default="python",
        show_default=True,
        help="rules backend when a request names none",
    )
    @click.option("--log-level", default="info", show_default=True, type=click.Choice(["warning", "info", "debug"]))
    def serve(
        host: str,
        port: int,
        workers: int,
        db_url: str | None,
        packs: tuple[str, ...],
        max_body: int,
        engine_name: str,
        log_level: str,
    ) -> None:
        """Serve the HTTP API (OpenAPI at /openapi.json); packs are compiled once per worker."""
        try:
            import uvicorn

            from .app import create_app  # noqa: F401 - fail here, not in every worker, when the extra is missing
        except ImportError as exc:
            raise _missing_extra(exc) from None
        from ..compiler import load_policy

        # A broken pack stops the start with its located errors (exit 1), before any worker starts.
        for ref in packs:
            load_policy(ref)
        settings = Settings(packs=packs, db=db_url, max_body=max_body, engine=engine_name)
        os.environ[ENV] = settings.to_env()
        cleanup = None
        if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            import tempfile

            cleanup = tempfile.TemporaryDirectory(prefix="zhidu-metrics-")
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = cleanup.name
        try:
            uvicorn.run(
                f"{__package__}.app:create_app",
                factory=True,
                host=host,
                port=port,
                workers=workers,
                log_level=log_level,
                access_log=log_level == "debug",
            )
        finally:
            if cleanup is not None:
                cleanup.cleanup()

    @click.group("tokens")
    def tokens() -> None:
        """Bearer tokens of the HTTP service: create, list, revoke (stored as SHA-256 digests)."""

    def store(db_url: str | None) -> Any:
        try:
            from ..register.db import connect
            from .tokens import TokenStore
        except ImportError as exc:
            raise _missing_extra(exc) from None
        return TokenStore(connect(db_url))

    @tokens.command("create", cls=command_cls)
    @click.option("--name", required=True, help="who or what uses the token (a person, a system)")
    @click.option("--role", required=True, type=click.Choice(["viewer", "operator", "admin"]))
    @DB_OPTION
    def create(name: str, role: str, db_url: str | None) -> None:
        """Create a token and print it once (only its digest is stored)."""
        actor = f"cli:{os.environ.get('USER') or 'unknown'}"
        record, token = store(db_url).create(name, role, actor=actor, now=datetime.now(UTC))
        click.echo(f"created token {record.id} ({record.role}) for {record.name}; it is shown only now:", err=True)
        click.echo(token)

    @tokens.command("list", cls=command_cls)
    @click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
    @DB_OPTION
    def list_tokens(fmt: str, db_url: str | None) -> None:
        """Every token: id, role, name, when created and by whom, when revoked."""
        records = store(db_url).list()
        if fmt == "json":
            click.echo(json.dumps([r.to_dict() for r in records], ensure_ascii=False, indent=2))
            return
        for r in records:
            state = f"revoked {r.revoked_at.isoformat()}" if r.revoked_at else "active"
            click.echo(f"{r.id}\t{r.role}\t{r.name}\t{r.created_at.isoformat()}\t{r.created_by}\t{state}")

    @tokens.command("revoke", cls=command_cls)
    @click.argument("token_id")
    @DB_OPTION
    def revoke(token_id: str, db_url: str | None) -> None:
        """Revoke a token by its id (see `zhidu tokens list`); a running service stops taking it within 5 s."""
        record = store(db_url).revoke(token_id, now=datetime.now(UTC))
        click.echo(f"revoked {record.id} ({record.role}, {record.name})")

    return [serve, tokens]
