"""framework versions: the platform that owns them

A framework version uploaded by a platform's administrator is that platform's: other
platforms' links, Deep Linking and setup pages must not see it. NULL keeps the old meaning
for every version imported so far (published for every platform, as the CLI does).

Launch sessions need nothing here: their absolute lifetime counts from ``created_at``.

Revision ID: 0004_trust_scope
Revises: 0003_outbox_dedupe
Create Date: 2026-12-05 13:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_trust_scope"
down_revision = "0003_outbox_dedupe"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("framework_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner_platform_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_framework_versions_owner_platform_id"),
            ["owner_platform_id"],
            unique=False,
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_framework_versions_owner_platform_id_platforms"),
            "platforms",
            ["owner_platform_id"],
            ["id"],
            ondelete="CASCADE",
        )


def downgrade() -> None:
    with op.batch_alter_table("framework_versions", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_framework_versions_owner_platform_id_platforms"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_framework_versions_owner_platform_id"))
        batch_op.drop_column("owner_platform_id")
