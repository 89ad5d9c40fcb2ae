"""What one service process serves: packs, database, limits; passed to uvicorn workers through the environment."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field

ENV = "ZHIDU_SERVE_SETTINGS"
# A case document is a few KiB; a megabyte leaves room for long texts and still bounds memory per request.
DEFAULT_MAX_BODY = 1024 * 1024


@dataclass(frozen=True)
class Settings:
    """Everything `create_app` needs; workers started by uvicorn read it back from $ZHIDU_SERVE_SETTINGS."""

    packs: tuple[str, ...] = ()  # empty: every bundled pack
    db: str | None = None  # the register's database URL or SQLite path (None: $ZHIDU_DATABASE_URL or the default)
    max_body: int = DEFAULT_MAX_BODY
    engine: str = "python"  # the rules backend when a request does not name one
    token_cache_seconds: float = 5.0  # how long a checked token is trusted before the database is asked again
    extra: dict[str, str] = field(default_factory=dict)

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls) -> Settings:
        raw = os.environ.get(ENV)
        if not raw:
            return cls()
        data = json.loads(raw)
        data["packs"] = tuple(data.get("packs") or ())
        return cls(**data)
