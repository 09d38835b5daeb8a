"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-28 05:09:37.993505
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import lti_app.db.base

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "admins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("issuer", sa.String(length=512), nullable=True),
        sa.Column("sub", sa.String(length=255), nullable=True),
        sa.Column("email", sa.String(length=512), nullable=True),
        sa.Column("created_at", lti_app.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_admins")),
        sa.UniqueConstraint("email", name=op.f("uq_admins_email")),
        sa.UniqueConstraint("issuer", "sub", name=op.f("uq_admins_issuer_sub")),
    )
    op.create_table(
        "framework_versions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("identifier", sa.String(length=512), nullable=False),
        sa.Column("version", sa.String(length=128), nullable=False),
        sa.Column("title", sa.String(length=512), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("source_format", sa.String(length=32), nullable=False),
        sa.Column(
            "document",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("imported_at", lti_app.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_framework_versions")),
        sa.UniqueConstraint(
            "identifier", "version", name=op.f("uq_framework_versions_identifier_version")
        ),
    )
    with op.batch_alter_table("framework_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_framework_versions_identifier"), ["identifier"], unique=False
        )

    op.create_table(
        "lti_launch_data",
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column(
            "value",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("expires_at", lti_app.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_lti_launch_data")),
    )
    with op.batch_alter_table("lti_launch_data", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_lti_launch_data_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "lti_nonces",
        sa.Column("nonce", sa.String(length=255), nullable=False),
        sa.Column("issuer", sa.String(length=512), nullable=False),
        sa.Column("expires_at", lti_app.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("nonce", name=op.f("pk_lti_nonces")),
    )
    with op.batch_alter_table("lti_nonces", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lti_nonces_expires_at"), ["expires_at"], unique=False)

    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column(
            "payload",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("dedupe_key", sa.String(length=255), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", lti_app.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("locked_until", lti_app.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", lti_app.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", lti_app.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_due", ["status", "next_attempt_at"], unique=False)

    op.create_table(
        "platforms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("issuer", sa.String(length=512), nullable=False),
        sa.Column("client_id", sa.String(length=255), nullable=False),
        sa.Column("auth_login_url", sa.String(length=1024), nullable=False),
        sa.Column("auth_token_url", sa.String(length=1024), nullable=False),
        sa.Column("jwks_url", sa.String(length=1024), nullable=False),
        sa.Column("auth_audience", sa.String(length=1024), nullable=True),
        sa.Column("product", sa.String(length=32), nullable=False),
        sa.Column(
            "details",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", lti_app.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_platforms")),
        sa.UniqueConstraint("issuer", "client_id", name=op.f("uq_platforms_issuer_client_id")),
    )
    op.create_table(
        "status_lists",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("bits", sa.LargeBinary(), nullable=False),
        sa.Column("next_index", sa.Integer(), nullable=False),
        sa.Column("created_at", lti_app.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", lti_app.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_lists")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("issuer", sa.String(length=512), nullable=False),
        sa.Column("sub", sa.String(length=255), nullable=False),
        sa.Column("name", sa.String(length=512), nullable=True),
        sa.Column("given_name", sa.String(length=255), nullable=True),
        sa.Column("family_name", sa.String(length=255), nullable=True),
        sa.Column("email", sa.String(length=512), nullable=True),
        sa.Column("locale", sa.String(length=32), nullable=True),
        sa.Column("wallet_did", sa.String(length=1024), nullable=True),
        sa.Column("show_name_on_credentials", sa.Boolean(), nullable=False),
        sa.Column("created_at", lti_app.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", lti_app.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("issuer", "sub", name=op.f("uq_users_issuer_sub")),
    )
    op.create_table(
        "deployments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform_id", sa.Integer(), nullable=False),
        sa.Column("deployment_id", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", lti_app.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("approved_at", lti_app.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["platform_id"],
            ["platforms.id"],
            name=op.f("fk_deployments_platform_id_platforms"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deployments")),
        sa.UniqueConstraint(
            "platform_id", "deployment_id", name=op.f("uq_deployments_platform_id_deployment_id")
        ),
    )
    op.create_table(
        "framework_levels",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("framework_version_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("label", sa.String(length=512), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("credential_valid_days", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["framework_version_id"],
            ["framework_versions.id"],
            name=op.f("fk_framework_levels_framework_version_id_framework_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_framework_levels")),
        sa.UniqueConstraint(
            "framework_version_id", "key", name=op.f("uq_framework_levels_framework_version_id_key")
        ),
    )
    op.create_table(
        "contexts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("platform_id", sa.Integer(), nullable=False),
        sa.Column("deployment_id", sa.Integer(), nullable=True),
        sa.Column("context_id", sa.String(length=255), nullable=False),
        sa.Column("title", sa.String(length=512), nullable=True),
        sa.Column("label", sa.String(length=255), nullable=True),
        sa.Column("memberships_url", sa.String(length=1024), nullable=True),
        sa.Column("roster_synced_at", lti_app.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", lti_app.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_contexts_deployment_id_deployments"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["platform_id"],
            ["platforms.id"],
            name=op.f("fk_contexts_platform_id_platforms"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contexts")),
        sa.UniqueConstraint(
            "platform_id", "context_id", name=op.f("uq_contexts_platform_id_context_id")
        ),
    )
    op.create_table(
        "statements",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("framework_version_id", sa.Uuid(), nullable=False),
        sa.Column("level_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("competency", sa.Text(), nullable=False),
        sa.Column("performance", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["framework_version_id"],
            ["framework_versions.id"],
            name=op.f("fk_statements_framework_version_id_framework_versions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["level_id"],
            ["framework_levels.id"],
            name=op.f("fk_statements_level_id_framework_levels"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_statements")),
        sa.UniqueConstraint("level_id", "position", name=op.f("uq_statements_level_id_position")),
    )
    with op.batch_alter_table("statements", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_statements_framework_version_id"), ["framework_version_id"], unique=False
        )

    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", lti_app.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_label", sa.String(length=512), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("context_id", sa.Integer(), nullable=True),
        sa.Column("subject_user_id", sa.Integer(), nullable=True),
        sa.Column("object_type", sa.String(length=64), nullable=True),
        sa.Column("object_id", sa.String(length=128), nullable=True),
        sa.Column(
            "details",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_audit_log_actor_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["context_id"],
            ["contexts.id"],
            name=op.f("fk_audit_log_context_id_contexts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["subject_user_id"], ["users.id"], name=op.f("fk_audit_log_subject_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index("ix_audit_log_context", ["context_id", "at"], unique=False)
        batch_op.create_index("ix_audit_log_subject", ["subject_user_id", "at"], unique=False)

    op.create_table(
        "credentials",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("learner_id", sa.Integer(), nullable=False),
        sa.Column("framework_version_id", sa.Uuid(), nullable=False),
        sa.Column("level_id", sa.Uuid(), nullable=False),
        sa.Column("context_id", sa.Integer(), nullable=True),
        sa.Column("live_key", sa.String(length=128), nullable=True),
        sa.Column("status_list_id", sa.Integer(), nullable=False),
        sa.Column("status_index", sa.Integer(), nullable=False),
        sa.Column("issued_at", lti_app.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("valid_until", lti_app.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column(
            "document",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("jwt", sa.Text(), nullable=True),
        sa.Column("signing_kid", sa.String(length=128), nullable=False),
        sa.Column("revoked_at", lti_app.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_by_id", sa.Integer(), nullable=True),
        sa.Column("revocation_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["context_id"],
            ["contexts.id"],
            name=op.f("fk_credentials_context_id_contexts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["framework_version_id"],
            ["framework_versions.id"],
            name=op.f("fk_credentials_framework_version_id_framework_versions"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["learner_id"],
            ["users.id"],
            name=op.f("fk_credentials_learner_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["level_id"],
            ["framework_levels.id"],
            name=op.f("fk_credentials_level_id_framework_levels"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["revoked_by_id"], ["users.id"], name=op.f("fk_credentials_revoked_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["status_list_id"],
            ["status_lists.id"],
            name=op.f("fk_credentials_status_list_id_status_lists"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credentials")),
        sa.UniqueConstraint("live_key", name=op.f("uq_credentials_live_key")),
        sa.UniqueConstraint(
            "status_list_id",
            "status_index",
            name=op.f("uq_credentials_status_list_id_status_index"),
        ),
    )
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.create_index(
            "ix_credentials_learner", ["learner_id", "framework_version_id"], unique=False
        )

    op.create_table(
        "memberships",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("context_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "roles",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("is_instructor", sa.Boolean(), nullable=False),
        sa.Column("is_learner", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("launched", sa.Boolean(), nullable=False),
        sa.Column("updated_at", lti_app.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["context_id"],
            ["contexts.id"],
            name=op.f("fk_memberships_context_id_contexts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_memberships_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_memberships")),
        sa.UniqueConstraint(
            "context_id", "user_id", name=op.f("uq_memberships_context_id_user_id")
        ),
    )
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_memberships_user_id"), ["user_id"], unique=False)

    op.create_table(
        "resource_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("context_id", sa.Integer(), nullable=False),
        sa.Column("resource_link_id", sa.String(length=255), nullable=False),
        sa.Column("title", sa.String(length=512), nullable=True),
        sa.Column("framework_version_id", sa.Uuid(), nullable=True),
        sa.Column(
            "level_keys",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("lineitem_url", sa.String(length=1024), nullable=True),
        sa.Column("lineitems_url", sa.String(length=1024), nullable=True),
        sa.Column(
            "ags_scopes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", lti_app.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["context_id"],
            ["contexts.id"],
            name=op.f("fk_resource_links_context_id_contexts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["framework_version_id"],
            ["framework_versions.id"],
            name=op.f("fk_resource_links_framework_version_id_framework_versions"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_resource_links")),
        sa.UniqueConstraint(
            "context_id",
            "resource_link_id",
            name=op.f("uq_resource_links_context_id_resource_link_id"),
        ),
    )
    op.create_table(
        "signoff_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("learner_id", sa.Integer(), nullable=False),
        sa.Column("statement_id", sa.Uuid(), nullable=False),
        sa.Column("context_id", sa.Integer(), nullable=False),
        sa.Column("evidence_text", sa.Text(), nullable=False),
        sa.Column("evidence_url", sa.String(length=2048), nullable=True),
        sa.Column("evidence_file_name", sa.String(length=255), nullable=True),
        sa.Column("evidence_file_type", sa.String(length=128), nullable=True),
        sa.Column("evidence_file", sa.LargeBinary(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", lti_app.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decision_comment", sa.Text(), nullable=True),
        sa.Column("created_at", lti_app.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["context_id"],
            ["contexts.id"],
            name=op.f("fk_signoff_requests_context_id_contexts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_id"], ["users.id"], name=op.f("fk_signoff_requests_decided_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["learner_id"],
            ["users.id"],
            name=op.f("fk_signoff_requests_learner_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["statement_id"],
            ["statements.id"],
            name=op.f("fk_signoff_requests_statement_id_statements"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signoff_requests")),
    )
    with op.batch_alter_table("signoff_requests", schema=None) as batch_op:
        batch_op.create_index(
            "ix_signoff_requests_context_status", ["context_id", "status"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_signoff_requests_learner_id"), ["learner_id"], unique=False
        )

    op.create_table(
        "signoff_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("learner_id", sa.Integer(), nullable=False),
        sa.Column("statement_id", sa.Uuid(), nullable=False),
        sa.Column("context_id", sa.Integer(), nullable=True),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_label", sa.String(length=512), nullable=True),
        sa.Column("action", sa.String(length=8), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column(
            "evidence",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("request_id", sa.Integer(), nullable=True),
        sa.Column("signed_at", lti_app.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", lti_app.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("source_key", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["users.id"],
            name=op.f("fk_signoff_events_actor_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["context_id"],
            ["contexts.id"],
            name=op.f("fk_signoff_events_context_id_contexts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["learner_id"],
            ["users.id"],
            name=op.f("fk_signoff_events_learner_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["signoff_requests.id"],
            name=op.f("fk_signoff_events_request_id_signoff_requests"),
        ),
        sa.ForeignKeyConstraint(
            ["statement_id"],
            ["statements.id"],
            name=op.f("fk_signoff_events_statement_id_statements"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signoff_events")),
        sa.UniqueConstraint("source_key", name=op.f("uq_signoff_events_source_key")),
    )
    with op.batch_alter_table("signoff_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_signoff_events_context_statement", ["context_id", "statement_id"], unique=False
        )
        batch_op.create_index(
            "ix_signoff_events_learner_statement",
            ["learner_id", "statement_id", "id"],
            unique=False,
        )


def downgrade() -> None:

    with op.batch_alter_table("signoff_events", schema=None) as batch_op:
        batch_op.drop_index("ix_signoff_events_learner_statement")
        batch_op.drop_index("ix_signoff_events_context_statement")

    op.drop_table("signoff_events")
    with op.batch_alter_table("signoff_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_signoff_requests_learner_id"))
        batch_op.drop_index("ix_signoff_requests_context_status")

    op.drop_table("signoff_requests")
    op.drop_table("resource_links")
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_memberships_user_id"))

    op.drop_table("memberships")
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.drop_index("ix_credentials_learner")

    op.drop_table("credentials")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_log_subject")
        batch_op.drop_index("ix_audit_log_context")

    op.drop_table("audit_log")
    with op.batch_alter_table("statements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_statements_framework_version_id"))

    op.drop_table("statements")
    op.drop_table("contexts")
    op.drop_table("framework_levels")
    op.drop_table("deployments")
    op.drop_table("users")
    op.drop_table("status_lists")
    op.drop_table("platforms")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_due")

    op.drop_table("outbox")
    with op.batch_alter_table("lti_nonces", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lti_nonces_expires_at"))

    op.drop_table("lti_nonces")
    with op.batch_alter_table("lti_launch_data", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lti_launch_data_expires_at"))

    op.drop_table("lti_launch_data")
    with op.batch_alter_table("framework_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_framework_versions_identifier"))

    op.drop_table("framework_versions")
    op.drop_table("admins")
