"""SQLAlchemy 2.0 typed models of the pipeline tables; uniqueness lives here, enforced by the database."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from leadgen.db.types import JSONType, UTCDateTime, json_default, str_enum, utcnow
from leadgen.mailbox.kinds import MailKind

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSONType}


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow, server_default=func.current_timestamp())
    updated_at: Mapped[datetime] = mapped_column(
        default=utcnow, onupdate=utcnow, server_default=func.current_timestamp()
    )


# --- statuses ---------------------------------------------------------------------------------------------


class QueryStatus(enum.StrEnum):
    PENDING = "pending"  # planned, waiting for its night slot
    SUBMITTED = "submitted"  # an operation was created for it
    DONE = "done"  # results collected
    FAILED = "failed"  # gave up, last_error says why


class OperationStatus(enum.StrEnum):
    PENDING = "pending"  # created at Yandex, not done yet
    DONE = "done"  # done and its results ingested
    FAILED = "failed"  # done with an error, or the payload was unusable
    EXPIRED = "expired"  # not done within the SLA


class CompanyStatus(enum.StrEnum):
    NEW = "new"
    DUPLICATE = "duplicate"
    ENRICHING = "enriching"
    ENRICHED = "enriched"
    NO_CONTACTS = "no_contacts"
    UNREACHABLE = "unreachable"
    EXCLUDED = "excluded"


class ContactKind(enum.StrEnum):
    EMAIL = "email"
    PHONE = "phone"


class ContactSource(enum.StrEnum):
    MAILTO = "mailto"
    TEL = "tel"
    TEXT = "text"
    JSONLD = "jsonld"
    MICRODATA = "microdata"
    CFEMAIL = "cfemail"
    OBFUSCATED = "obfuscated"
    MANUAL = "manual"


class MessageStatus(enum.StrEnum):
    DRAFTED = "drafted"
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"
    UNKNOWN = "unknown"  # found in `sending` after a crash; never resent automatically
    BOUNCED = "bounced"  # sent, then a bounce (DSN) came back for it
    REPLIED = "replied"  # sent, then the recipient answered


class OptOutKind(enum.StrEnum):
    EMAIL = "email"
    DOMAIN = "domain"
    EMAIL_HASH = "email_hash"  # left behind by `leadgen forget`


class JobStatus(enum.StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


# --- tables -----------------------------------------------------------------------------------------------


class SerpQuery(TimestampMixin, Base):
    """One planned search: query text + region, unique by query_hash = sha1(query_text|region_code)."""

    __tablename__ = "serp_queries"

    id: Mapped[int] = mapped_column(primary_key=True)
    query_text: Mapped[str] = mapped_column(String(400))
    region_code: Mapped[str] = mapped_column(String(32))
    query_hash: Mapped[str] = mapped_column(String(40), unique=True)
    page: Mapped[int] = mapped_column(default=0)
    status: Mapped[QueryStatus] = mapped_column(
        str_enum(QueryStatus, "query_status"), default=QueryStatus.PENDING, index=True
    )
    scheduled_for: Mapped[datetime | None] = mapped_column(index=True)
    is_night_window: Mapped[bool] = mapped_column(Boolean, default=True)
    batch_tag: Mapped[str | None] = mapped_column(String(100), index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    requeue_count: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", default=json_default)

    def __repr__(self) -> str:
        return f"SerpQuery(id={self.id!r}, query_text={self.query_text!r}, status={self.status!r})"


class SerpOperation(TimestampMixin, Base):
    """A deferred Yandex search operation created for a query; polled until done, failed or expired."""

    __tablename__ = "serp_operations"

    id: Mapped[int] = mapped_column(primary_key=True)
    operation_id: Mapped[str] = mapped_column(String(64), unique=True)
    query_id: Mapped[int | None] = mapped_column(
        ForeignKey("serp_queries.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[OperationStatus] = mapped_column(
        str_enum(OperationStatus, "operation_status"), default=OperationStatus.PENDING, index=True
    )
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_polled_at: Mapped[datetime | None]
    poll_count: Mapped[int] = mapped_column(default=0)
    done_at: Mapped[datetime | None]
    result_count: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", default=json_default)

    def __repr__(self) -> str:
        return f"SerpOperation(id={self.id!r}, operation_id={self.operation_id!r}, status={self.status!r})"


class SerpResult(TimestampMixin, Base):
    """One document of a SERP page; unique per (operation_id, url); skip_reason is null for company candidates."""

    __tablename__ = "serp_results"
    __table_args__ = (UniqueConstraint("operation_id", "url", name="uq_serp_results_operation_id_url"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    operation_id: Mapped[str] = mapped_column(String(64))  # served by the (operation_id, url) unique index
    query_id: Mapped[int | None] = mapped_column(
        ForeignKey("serp_queries.id", ondelete="SET NULL"), index=True
    )
    url: Mapped[str] = mapped_column(String(2048))
    domain: Mapped[str | None] = mapped_column(String(255), index=True)
    title: Mapped[str | None] = mapped_column(Text)
    snippet: Mapped[str | None] = mapped_column(Text)
    position: Mapped[int | None]
    page: Mapped[int | None]
    skip_reason: Mapped[str | None] = mapped_column(String(64))
    company_id: Mapped[int | None] = mapped_column(
        ForeignKey("companies.id", ondelete="SET NULL"), index=True
    )
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", default=json_default)

    def __repr__(self) -> str:
        return f"SerpResult(id={self.id!r}, url={self.url!r}, skip_reason={self.skip_reason!r})"


class Company(TimestampMixin, Base):
    """One company, keyed by canonical_domain and dedupe_hash (a duplicate releases both and points at its primary)."""

    __tablename__ = "companies"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str | None] = mapped_column(String(500))
    canonical_domain: Mapped[str | None] = mapped_column(String(255), unique=True)
    dedupe_hash: Mapped[str | None] = mapped_column(String(40), unique=True)
    website_url: Mapped[str | None] = mapped_column(String(2048))
    source: Mapped[str] = mapped_column(String(64), default="yandex_search_api")
    status: Mapped[CompanyStatus] = mapped_column(
        str_enum(CompanyStatus, "company_status"), default=CompanyStatus.NEW, index=True
    )
    status_reason: Mapped[str | None] = mapped_column(Text)
    opt_out: Mapped[bool] = mapped_column(Boolean, default=False)
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("companies.id", ondelete="SET NULL"))
    niche: Mapped[str | None] = mapped_column(String(255))
    city: Mapped[str | None] = mapped_column(String(255))
    region_code: Mapped[str | None] = mapped_column(String(32))
    batch_tag: Mapped[str | None] = mapped_column(String(100), index=True)
    snippet: Mapped[str | None] = mapped_column(Text)
    site_text: Mapped[str | None] = mapped_column(Text)
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    enriched_at: Mapped[datetime | None]
    replied_at: Mapped[datetime | None]  # someone at the company answered: it gets no further mail
    claimed_by: Mapped[str | None] = mapped_column(String(255))  # crawl claim's owner (leadgen.owners)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", default=json_default)

    def __repr__(self) -> str:
        return f"Company(id={self.id!r}, canonical_domain={self.canonical_domain!r}, status={self.status!r})"


class Contact(TimestampMixin, Base):
    """An email or phone of a company; unique per (company, kind, LOWER(value)), with provenance."""

    __tablename__ = "contacts"
    id: Mapped[int] = mapped_column(primary_key=True)
    company_id: Mapped[int] = mapped_column(ForeignKey("companies.id", ondelete="CASCADE"), index=True)
    kind: Mapped[ContactKind] = mapped_column(str_enum(ContactKind, "contact_kind"))
    value: Mapped[str] = mapped_column(String(320))
    source: Mapped[ContactSource] = mapped_column(str_enum(ContactSource, "contact_source"))
    quality_score: Mapped[float] = mapped_column(Float, default=0.0)
    is_primary: Mapped[bool] = mapped_column(Boolean, default=False)
    page_url: Mapped[str | None] = mapped_column(String(2048))
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", default=json_default)

    def __repr__(self) -> str:
        return f"Contact(id={self.id!r}, kind={self.kind!r}, value={self.value!r})"


class OutreachMessage(TimestampMixin, Base):
    """One email to one contact in one campaign: the outbox row and its state machine."""

    __tablename__ = "outreach_messages"
    __table_args__ = (
        UniqueConstraint("contact_id", "campaign", name="uq_outreach_messages_contact_id_campaign"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"), index=True)
    company_id: Mapped[int | None] = mapped_column(
        ForeignKey("companies.id", ondelete="SET NULL"), index=True
    )
    campaign: Mapped[str] = mapped_column(String(100))
    to_email: Mapped[str | None] = mapped_column(String(320))
    status: Mapped[MessageStatus] = mapped_column(
        str_enum(MessageStatus, "message_status"), default=MessageStatus.DRAFTED, index=True
    )
    subject: Mapped[str | None] = mapped_column(String(500))
    body: Mapped[str | None] = mapped_column(Text)
    composer: Mapped[str | None] = mapped_column(String(32))
    message_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    route: Mapped[str | None] = mapped_column(String(32))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    queued_at: Mapped[datetime | None]
    sending_started_at: Mapped[datetime | None]
    data_started_at: Mapped[datetime | None]  # committed before the SMTP DATA command (the send checkpoint)
    claimed_by: Mapped[str | None] = mapped_column(String(255))  # send claim's owner (leadgen.owners)
    sent_at: Mapped[datetime | None] = mapped_column(index=True)
    next_attempt_at: Mapped[datetime | None]
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", default=json_default)

    def __repr__(self) -> str:
        return f"OutreachMessage(id={self.id!r}, campaign={self.campaign!r}, status={self.status!r})"


class SendPermit(TimestampMixin, Base):
    """Rate-limit permits (Prefect's `email-daily` slots) a send run holds and has not used: one row per owner.

    A run adds what it takes and gives back what is left when it ends; each claimed message takes one off inside
    its claim transaction. So `held` never exceeds what the owner holds unused, and a crashed owner's row tells
    the next run how many slots to return (leadgen.outreach.permit_pool).
    """

    __tablename__ = "send_permits"

    owner: Mapped[str] = mapped_column(String(255), primary_key=True)  # leadgen.owners
    held: Mapped[int] = mapped_column(default=0)

    def __repr__(self) -> str:
        return f"SendPermit(owner={self.owner!r}, held={self.held!r})"


class OptOut(TimestampMixin, Base):
    """Suppression list entry: an email, a whole domain or the hash of a forgotten email; unique on LOWER(value)."""

    __tablename__ = "opt_out_registry"
    id: Mapped[int] = mapped_column(primary_key=True)
    value: Mapped[str] = mapped_column(String(320))
    kind: Mapped[OptOutKind] = mapped_column(str_enum(OptOutKind, "opt_out_kind"))
    reason: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(String(64))

    def __repr__(self) -> str:
        return f"OptOut(id={self.id!r}, kind={self.kind!r})"


class InboundMessage(TimestampMixin, Base):
    """One classified message read from a sending route's mailbox, and what the outreach loop did about it.

    Unique per (mailbox, folder, uidvalidity, uid) for messages read over IMAP; messages without a UID (a
    Maildir read by the demo, a file) are unique per (mailbox, folder, inbound_message_id) instead.
    """

    __tablename__ = "inbound_messages"
    __table_args__ = (
        UniqueConstraint(
            "mailbox",
            "folder",
            "uidvalidity",
            "uid",
            name="uq_inbound_messages_mailbox_folder_uidvalidity_uid",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    mailbox: Mapped[str] = mapped_column(String(64))  # the route whose mailbox it came from
    folder: Mapped[str] = mapped_column(String(255))
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger)
    uid: Mapped[int | None] = mapped_column(BigInteger)
    inbound_message_id: Mapped[str | None] = mapped_column(String(500))
    kind: Mapped[MailKind] = mapped_column(str_enum(MailKind, "mail_kind"), index=True)
    reason: Mapped[str | None] = mapped_column(String(255))  # which classifier rule decided
    status_code: Mapped[str | None] = mapped_column(String(16))  # enhanced status code of a bounce
    recipients: Mapped[list[str]] = mapped_column(JSONType, default=list)  # failed recipients of a bounce
    sender: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime | None]  # the message's Date header
    excerpt: Mapped[str | None] = mapped_column(Text)
    outreach_message_id: Mapped[int | None] = mapped_column(
        ForeignKey("outreach_messages.id", ondelete="SET NULL"), index=True
    )
    company_id: Mapped[int | None] = mapped_column(
        ForeignKey("companies.id", ondelete="SET NULL"), index=True
    )
    effect: Mapped[str | None] = mapped_column(Text)  # what the loop did, in words
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", default=json_default)

    def __repr__(self) -> str:
        return (
            f"InboundMessage(id={self.id!r}, kind={self.kind!r}, mailbox={self.mailbox!r}, uid={self.uid!r})"
        )


class AddressBounce(TimestampMixin, Base):
    """Bounces counted per recipient address (stored normalised, unique on LOWER(address))."""

    __tablename__ = "address_bounces"

    id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(String(320))
    soft_count: Mapped[int] = mapped_column(Integer, default=0)
    hard_count: Mapped[int] = mapped_column(Integer, default=0)
    last_status: Mapped[str | None] = mapped_column(String(16))
    last_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"AddressBounce(id={self.id!r}, soft={self.soft_count!r}, hard={self.hard_count!r})"


class ProcessingJob(TimestampMixin, Base):
    """A record of one stage run (CLI or flow): what it processed and how it ended."""

    __tablename__ = "processing_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    stage: Mapped[str] = mapped_column(String(64), index=True)
    batch_tag: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[JobStatus] = mapped_column(str_enum(JobStatus, "job_status"), default=JobStatus.RUNNING)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    flow_run_id: Mapped[str | None] = mapped_column(String(64))
    stats: Mapped[dict[str, Any]] = mapped_column(default=json_default)
    error: Mapped[str | None] = mapped_column(Text)

    def __repr__(self) -> str:
        return f"ProcessingJob(id={self.id!r}, stage={self.stage!r}, status={self.status!r})"


# Case-insensitive uniqueness needs expression indexes, declared once the columns exist.
Index(
    "uq_contacts_company_kind_lower_value",
    Contact.company_id,
    Contact.kind,
    func.lower(Contact.value),
    unique=True,
)
Index("uq_opt_out_registry_lower_value", func.lower(OptOut.value), unique=True)
Index("uq_address_bounces_lower_address", func.lower(AddressBounce.address), unique=True)
# Messages without an IMAP UID are deduplicated by their own Message-ID (NULL UIDs never collide above).
Index(
    "uq_inbound_messages_mailbox_folder_message_id",
    InboundMessage.mailbox,
    InboundMessage.folder,
    InboundMessage.inbound_message_id,
    unique=True,
    sqlite_where=InboundMessage.uid.is_(None),
    postgresql_where=InboundMessage.uid.is_(None),
)


# --- mailbox (issue 16) -----------------------------------------------------------------------------------


class MailboxCursor(TimestampMixin, Base):
    """How far one IMAP folder has been read: its UIDVALIDITY and the highest UID handled; one row per folder."""

    __tablename__ = "mailbox_cursors"
    __table_args__ = (UniqueConstraint("mailbox", "folder", name="uq_mailbox_cursors_mailbox_folder"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    mailbox: Mapped[str] = mapped_column(String(64))  # ImapRoute.mailbox: the route's name
    folder: Mapped[str] = mapped_column(String(255))
    # RFC 3501: UIDVALIDITY and UIDs are unsigned 32-bit numbers, past a Postgres INTEGER.
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)

    def __repr__(self) -> str:
        return (
            f"MailboxCursor(mailbox={self.mailbox!r}, folder={self.folder!r}, "
            f"uidvalidity={self.uidvalidity!r}, last_uid={self.last_uid!r})"
        )


# The sync's `recorded_before` looks inbound messages up by their own Message-ID (a UIDVALIDITY change rescans).
Index("ix_inbound_messages_inbound_message_id", InboundMessage.inbound_message_id)
# One message per address per campaign, even when two companies share the address (skipped rows do not count).
Index(
    "uq_outreach_messages_campaign_lower_to_email",
    OutreachMessage.campaign,
    func.lower(OutreachMessage.to_email),
    unique=True,
    sqlite_where=text("status <> 'skipped'"),
    postgresql_where=text("status <> 'skipped'"),
)
