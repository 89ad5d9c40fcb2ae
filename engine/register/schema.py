"""The register's tables (SQLAlchemy Core): one schema for SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
)

# Names for constraints, so Alembic migrations can refer to them on both dialects.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

Id = BigInteger().with_variant(Integer, "sqlite")  # SQLite autoincrements only INTEGER PRIMARY KEY
Money = Numeric(14, 2)
Instant = DateTime(timezone=True)

# An immutable published pack: every file, compressed, named by its content hash.
pack_versions = Table(
    "pack_versions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("pack_id", String(100), nullable=False),
    Column("version", String(50), nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("effective_from", Date),
    Column("timezone", String(64), nullable=False),  # read without compiling the pack (due list)
    Column("published_at", Instant, nullable=False),
    Column("published_by", String(200), nullable=False),
    Column("files", LargeBinary, nullable=False),
    UniqueConstraint("pack_id", "content_hash", name="uq_pack_versions_hash"),
)

# The projection of each case's events (a cache of the fold, rewritten with every event; the events
# are the record). `version` is the number of events: an append names the version it was based on.
cases = Table(
    "cases",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("pack_id", String(100), nullable=False),
    Column("number", String(100), nullable=False),
    Column("external_id", String(200)),
    Column("pack_version_id", Id, ForeignKey("pack_versions.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("status", String(20), nullable=False),
    Column("received_at", Instant, nullable=False),
    Column("closed_at", Instant),
    Column("facts", Text, nullable=False),
    # The earliest future instant (warning, due time) of the last decision: what `tick` looks at.
    Column("next_at", Instant),
    Column("updated_at", Instant, nullable=False),
    UniqueConstraint("pack_id", "number", name="uq_cases_number"),
    UniqueConstraint("pack_id", "external_id", name="uq_cases_external_id"),
)
Index("ix_cases_next_at", cases.c.status, cases.c.next_at)
Index("ix_cases_closed_at", cases.c.closed_at)

# Append-only: nothing here is updated or deleted. (case_id, seq) is unique: two writers based on
# the same version cannot both add event N.
events = Table(
    "events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("case_id", Id, ForeignKey("cases.id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("kind", String(40), nullable=False),
    Column("payload", Text, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("reason", Text),
    Column("occurred_at", Instant, nullable=False),
    Column("recorded_at", Instant, nullable=False),
    UniqueConstraint("case_id", "seq", name="uq_events_case_seq"),
)

# Decision bodies, zlib-compressed JSON keyed by their SHA-256: identical decisions are stored once.
blobs = Table(
    "blobs",
    metadata,
    Column("hash", String(64), primary_key=True),
    Column("data", LargeBinary, nullable=False),
)

# The decision log: every evaluation the register made, with what it was made from.
decisions = Table(
    "decisions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("case_id", Id, ForeignKey("cases.id"), nullable=False),
    Column("seq", Integer, nullable=False),  # the case version evaluated
    Column("pack_version_id", Id, ForeignKey("pack_versions.id"), nullable=False),
    Column("content_hash", String(64), nullable=False),
    Column("evaluated_at", Instant, nullable=False),
    Column("engine", String(20), nullable=False),
    Column("decision_hash", String(64), ForeignKey("blobs.hash"), nullable=False),
    Column("recorded_at", Instant, nullable=False),
)
Index("ix_decisions_case", decisions.c.case_id, decisions.c.id)

# Next instants of open cases, from their last decision (rewritten with each decision): the due list
# reads this index instead of evaluating every case.
deadlines = Table(
    "deadlines",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("case_id", Id, ForeignKey("cases.id"), nullable=False),
    Column("pack_id", String(100), nullable=False),
    Column("item", String(200), nullable=False),
    Column("kind", String(20), nullable=False),
    Column("label", String(300), nullable=False),
    Column("role", String(100)),
    Column("warn_at", Instant),
    Column("due_at", Instant, nullable=False),
)
Index("ix_deadlines_due", deadlines.c.due_at)
Index("ix_deadlines_warn", deadlines.c.warn_at)
Index("ix_deadlines_case", deadlines.c.case_id)

# One row per breach whose effects were issued: the unique key makes them happen exactly once.
breaches = Table(
    "breaches",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("case_id", Id, ForeignKey("cases.id"), nullable=False),
    Column("item", String(200), nullable=False),
    Column("due_at", Instant, nullable=False),
    Column("recorded_at", Instant, nullable=False),
    UniqueConstraint("case_id", "item", "due_at", name="uq_breaches_once"),
)

# Serial numbers per counter and period; incremented in the transaction that uses the number.
serials = Table(
    "serials",
    metadata,
    Column("pack_id", String(100), primary_key=True),
    Column("counter", String(100), primary_key=True),
    Column("period", String(10), primary_key=True),
    Column("value", Integer, nullable=False),
)

# Monthly bonus per person: the base of the 50 % cap.
bonuses = Table(
    "bonuses",
    metadata,
    Column("person_id", String(100), primary_key=True),
    Column("month", String(7), primary_key=True),
    Column("amount", Money, nullable=False),
    Column("recorded_at", Instant, nullable=False),
)

# Penalty charges posted when a case's penalty is confirmed (once per case, person and kind).
charges = Table(
    "charges",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("person_id", String(100), nullable=False),
    Column("name", String(200)),
    Column("case_id", Id, ForeignKey("cases.id"), nullable=False),
    Column("kind", String(40), nullable=False),
    Column("month", String(7), nullable=False),
    Column("amount", Money, nullable=False),
    # Under the pack's monthly cap (e.g. economic penalties within 50 % of the bonus), and its ratio.
    Column("cap_ratio", Numeric(6, 4)),
    Column("basis", Text),
    Column("recorded_at", Instant, nullable=False),
    UniqueConstraint("case_id", "person_id", "kind", name="uq_charges_once"),
)
Index("ix_charges_person", charges.c.person_id, charges.c.month)

# The HTTP service's bearer tokens (engine/service/tokens.py; migration 0002): digests only, a role each.
service_tokens = Table(
    "service_tokens",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("role", String(20), nullable=False),
    Column("token_sha256", String(64), nullable=False, unique=True),
    Column("created_at", Instant, nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("revoked_at", Instant),
)
