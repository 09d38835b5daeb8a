"""issuer_profile: the institution that issues, as a tool administrator describes it

Revision ID: 0011_issuer_profile
Revises: 0010_user_locale
Create Date: 2026-12-05 15:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from lti_app.db.base import UTCDateTime

revision = "0011_issuer_profile"
down_revision = "0010_user_locale"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "issuer_profile",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("url", sa.String(length=1024), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("image", sa.LargeBinary(), nullable=True),
        sa.Column("image_sha256", sa.String(length=64), nullable=True),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["updated_by"],
            ["users.id"],
            name=op.f("fk_issuer_profile_updated_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_issuer_profile")),
    )


def downgrade() -> None:
    op.drop_table("issuer_profile")
