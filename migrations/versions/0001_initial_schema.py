"""initial schema: pipeline tables, case-insensitive unique indexes and reporting views

Revision ID: 0001
Revises:
Create Date: 2026-11-26 09:32:59.233725
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from leadgen.db.views import create_view_statements, drop_view_statements

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "companies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=True),
        sa.Column("canonical_domain", sa.String(length=255), nullable=True),
        sa.Column("dedupe_hash", sa.String(length=40), nullable=True),
        sa.Column("website_url", sa.String(length=2048), nullable=True),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "new",
                "duplicate",
                "enriching",
                "enriched",
                "no_contacts",
                "unreachable",
                "excluded",
                name="company_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("opt_out", sa.Boolean(), nullable=False),
        sa.Column("duplicate_of_id", sa.Integer(), nullable=True),
        sa.Column("niche", sa.String(length=255), nullable=True),
        sa.Column("city", sa.String(length=255), nullable=True),
        sa.Column("region_code", sa.String(length=32), nullable=True),
        sa.Column("batch_tag", sa.String(length=100), nullable=True),
        sa.Column("snippet", sa.Text(), nullable=True),
        sa.Column("site_text", sa.Text(), nullable=True),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("enriched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("metadata", JSON, nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["duplicate_of_id"],
            ["companies.id"],
            name=op.f("fk_companies_duplicate_of_id_companies"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_companies")),
        sa.UniqueConstraint("canonical_domain", name=op.f("uq_companies_canonical_domain")),
        sa.UniqueConstraint("dedupe_hash", name=op.f("uq_companies_dedupe_hash")),
    )
    with op.batch_alter_table("companies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_companies_batch_tag"), ["batch_tag"], unique=False)
        batch_op.create_index(batch_op.f("ix_companies_status"), ["status"], unique=False)

    op.create_table(
        "opt_out_registry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("value", sa.String(length=320), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "email",
                "domain",
                "email_hash",
                name="opt_out_kind",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("source", sa.String(length=64), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opt_out_registry")),
    )
    op.create_table(
        "processing_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=64), nullable=False),
        sa.Column("batch_tag", sa.String(length=100), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "running", "completed", "failed", name="job_status", native_enum=False, create_constraint=True
            ),
            nullable=False,
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("flow_run_id", sa.String(length=64), nullable=True),
        sa.Column("stats", JSON, nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_processing_jobs")),
    )
    with op.batch_alter_table("processing_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_processing_jobs_stage"), ["stage"], unique=False)

    op.create_table(
        "serp_queries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("query_text", sa.String(length=400), nullable=False),
        sa.Column("region_code", sa.String(length=32), nullable=False),
        sa.Column("query_hash", sa.String(length=40), nullable=False),
        sa.Column("page", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "submitted",
                "done",
                "failed",
                name="query_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("scheduled_for", sa.DateTime(timezone=True), nullable=True),
        sa.Column("is_night_window", sa.Boolean(), nullable=False),
        sa.Column("batch_tag", sa.String(length=100), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("requeue_count", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("metadata", JSON, nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_serp_queries")),
        sa.UniqueConstraint("query_hash", name=op.f("uq_serp_queries_query_hash")),
    )
    with op.batch_alter_table("serp_queries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_serp_queries_batch_tag"), ["batch_tag"], unique=False)
        batch_op.create_index(batch_op.f("ix_serp_queries_scheduled_for"), ["scheduled_for"], unique=False)
        batch_op.create_index(batch_op.f("ix_serp_queries_status"), ["status"], unique=False)

    op.create_table(
        "contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("email", "phone", name="contact_kind", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column("value", sa.String(length=320), nullable=False),
        sa.Column(
            "source",
            sa.Enum(
                "mailto",
                "tel",
                "text",
                "jsonld",
                "microdata",
                "cfemail",
                "obfuscated",
                "manual",
                name="contact_source",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("quality_score", sa.Float(), nullable=False),
        sa.Column("is_primary", sa.Boolean(), nullable=False),
        sa.Column("page_url", sa.String(length=2048), nullable=True),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("metadata", JSON, nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_contacts_company_id_companies"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts")),
    )
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contacts_company_id"), ["company_id"], unique=False)

    op.create_table(
        "serp_operations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("operation_id", sa.String(length=64), nullable=False),
        sa.Column("query_id", sa.Integer(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "done",
                "failed",
                "expired",
                name="operation_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_polled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("poll_count", sa.Integer(), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result_count", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("metadata", JSON, nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["query_id"],
            ["serp_queries.id"],
            name=op.f("fk_serp_operations_query_id_serp_queries"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_serp_operations")),
        sa.UniqueConstraint("operation_id", name=op.f("uq_serp_operations_operation_id")),
    )
    with op.batch_alter_table("serp_operations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_serp_operations_query_id"), ["query_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_serp_operations_status"), ["status"], unique=False)

    op.create_table(
        "serp_results",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("operation_id", sa.String(length=64), nullable=False),
        sa.Column("query_id", sa.Integer(), nullable=True),
        sa.Column("url", sa.String(length=2048), nullable=False),
        sa.Column("domain", sa.String(length=255), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("snippet", sa.Text(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=True),
        sa.Column("page", sa.Integer(), nullable=True),
        sa.Column("skip_reason", sa.String(length=64), nullable=True),
        sa.Column("company_id", sa.Integer(), nullable=True),
        sa.Column("metadata", JSON, nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_serp_results_company_id_companies"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["query_id"],
            ["serp_queries.id"],
            name=op.f("fk_serp_results_query_id_serp_queries"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_serp_results")),
        sa.UniqueConstraint("operation_id", "url", name="uq_serp_results_operation_id_url"),
    )
    with op.batch_alter_table("serp_results", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_serp_results_company_id"), ["company_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_serp_results_domain"), ["domain"], unique=False)
        batch_op.create_index(batch_op.f("ix_serp_results_operation_id"), ["operation_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_serp_results_query_id"), ["query_id"], unique=False)

    op.create_table(
        "outreach_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("company_id", sa.Integer(), nullable=True),
        sa.Column("campaign", sa.String(length=100), nullable=False),
        sa.Column("to_email", sa.String(length=320), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "drafted",
                "queued",
                "sending",
                "sent",
                "failed",
                "skipped",
                "unknown",
                name="message_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("subject", sa.String(length=500), nullable=True),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("composer", sa.String(length=32), nullable=True),
        sa.Column("message_id", sa.String(length=255), nullable=True),
        sa.Column("route", sa.String(length=32), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sending_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("metadata", JSON, nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_outreach_messages_company_id_companies"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_outreach_messages_contact_id_contacts"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outreach_messages")),
        sa.UniqueConstraint("contact_id", "campaign", name="uq_outreach_messages_contact_id_campaign"),
        sa.UniqueConstraint("message_id", name=op.f("uq_outreach_messages_message_id")),
    )
    with op.batch_alter_table("outreach_messages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outreach_messages_company_id"), ["company_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_outreach_messages_contact_id"), ["contact_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_outreach_messages_sent_at"), ["sent_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_outreach_messages_status"), ["status"], unique=False)

    op.create_index(
        "uq_contacts_company_kind_lower_value",
        "contacts",
        ["company_id", "kind", sa.text("lower(value)")],
        unique=True,
    )
    op.create_index(
        "uq_opt_out_registry_lower_value", "opt_out_registry", [sa.text("lower(value)")], unique=True
    )
    for statement in create_view_statements(op.get_bind().dialect.name):
        op.execute(statement)


def downgrade() -> None:
    for statement in drop_view_statements():
        op.execute(statement)
    op.drop_index("uq_opt_out_registry_lower_value", table_name="opt_out_registry")
    op.drop_index("uq_contacts_company_kind_lower_value", table_name="contacts")
    with op.batch_alter_table("outreach_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outreach_messages_status"))
        batch_op.drop_index(batch_op.f("ix_outreach_messages_sent_at"))
        batch_op.drop_index(batch_op.f("ix_outreach_messages_contact_id"))
        batch_op.drop_index(batch_op.f("ix_outreach_messages_company_id"))

    op.drop_table("outreach_messages")
    with op.batch_alter_table("serp_results", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_serp_results_query_id"))
        batch_op.drop_index(batch_op.f("ix_serp_results_operation_id"))
        batch_op.drop_index(batch_op.f("ix_serp_results_domain"))
        batch_op.drop_index(batch_op.f("ix_serp_results_company_id"))

    op.drop_table("serp_results")
    with op.batch_alter_table("serp_operations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_serp_operations_status"))
        batch_op.drop_index(batch_op.f("ix_serp_operations_query_id"))

    op.drop_table("serp_operations")
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contacts_company_id"))

    op.drop_table("contacts")
    with op.batch_alter_table("serp_queries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_serp_queries_status"))
        batch_op.drop_index(batch_op.f("ix_serp_queries_scheduled_for"))
        batch_op.drop_index(batch_op.f("ix_serp_queries_batch_tag"))

    op.drop_table("serp_queries")
    with op.batch_alter_table("processing_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_processing_jobs_stage"))

    op.drop_table("processing_jobs")
    op.drop_table("opt_out_registry")
    with op.batch_alter_table("companies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_companies_status"))
        batch_op.drop_index(batch_op.f("ix_companies_batch_tag"))

    op.drop_table("companies")
