"""outbox: index the pending rows by dedupe key

Every sign-off queues its learner's score with a dedupe key, and ``outbox.enqueue`` first
looks for the pending row with that key to replace it. Without this index that lookup reads
every pending row: a few while the worker keeps up, thousands while an LMS is down. Partial
(pending rows only), so it stays small however many rows have been sent.

Revision ID: 0003_outbox_dedupe
Revises: 0002_launch_sessions
Create Date: 2026-11-28 06:38:24.272724
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_outbox_dedupe"
down_revision = "0002_launch_sessions"
branch_labels = None
depends_on = None

_PENDING = "status = 'pending'"


def upgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_pending_dedupe",
            ["dedupe_key"],
            unique=False,
            postgresql_where=sa.text(_PENDING),
            sqlite_where=sa.text(_PENDING),
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_outbox_pending_dedupe",
            postgresql_where=sa.text(_PENDING),
            sqlite_where=sa.text(_PENDING),
        )
