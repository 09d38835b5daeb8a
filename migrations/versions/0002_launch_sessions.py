"""launch sessions

Revision ID: 0002_launch_sessions
Revises: 0001
Create Date: 2026-11-28 05:17:48.194192
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import lti_app.db.base

revision = "0002_launch_sessions"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "launch_sessions",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("platform_id", sa.Integer(), nullable=False),
        sa.Column("context_id", sa.Integer(), nullable=True),
        sa.Column("resource_link_id", sa.Integer(), nullable=True),
        sa.Column("message_type", sa.String(length=64), nullable=False),
        sa.Column(
            "roles",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("is_instructor", sa.Boolean(), nullable=False),
        sa.Column("is_learner", sa.Boolean(), nullable=False),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("is_tool_admin", sa.Boolean(), nullable=False),
        sa.Column("locale", sa.String(length=32), nullable=True),
        sa.Column("browser_hash", sa.String(length=64), nullable=True),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", lti_app.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", lti_app.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["context_id"],
            ["contexts.id"],
            name=op.f("fk_launch_sessions_context_id_contexts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["platform_id"],
            ["platforms.id"],
            name=op.f("fk_launch_sessions_platform_id_platforms"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["resource_link_id"],
            ["resource_links.id"],
            name=op.f("fk_launch_sessions_resource_link_id_resource_links"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_launch_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_launch_sessions")),
    )
    with op.batch_alter_table("launch_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_launch_sessions_expires_at"), ["expires_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_launch_sessions_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("launch_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_launch_sessions_user_id"))
        batch_op.drop_index(batch_op.f("ix_launch_sessions_expires_at"))

    op.drop_table("launch_sessions")
