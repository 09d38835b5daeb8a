"""registry version stamp: per-process caches of platforms and deployments see every change

``registry_version`` holds one row whose ``stamp`` triggers replace on any change to
``platforms`` or ``deployments`` (insert, update, delete, truncate), whatever makes it. Each
app process caches the registry with the stamp it read; login and launch statements bring the
current stamp back with their own results, so a removed deployment or a changed key set URL is
seen by the next login or launch in every process, with no extra round trip (PostgreSQL).
SQLite reads the registry on every launch and needs no trigger; the table exists on both so
the schemas match the models.

Revision ID: 0007_launch_cost
Revises: 0004_trust_scope
Create Date: 2026-12-05 14:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_launch_cost"
down_revision = "0004_trust_scope"
branch_labels = None
depends_on = None

TABLES = ("platforms", "deployments")

# A random stamp, not a counter: a truncated table (tests) restarts no sequence, so an old
# process cache can never meet the same value again by chance.
BUMP = """
CREATE OR REPLACE FUNCTION registry_version_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO registry_version (id, stamp)
    VALUES (1, (random() * 9007199254740991)::bigint)
    ON CONFLICT (id) DO UPDATE SET stamp = excluded.stamp;
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    op.create_table(
        "registry_version",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("stamp", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_version")),
    )
    op.execute("INSERT INTO registry_version (id, stamp) VALUES (1, 0)")
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(BUMP)
    for table in TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_registry_version AFTER INSERT OR UPDATE OR DELETE OR "
            f"TRUNCATE ON {table} FOR EACH STATEMENT EXECUTE FUNCTION registry_version_bump()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_registry_version ON {table}")
        op.execute("DROP FUNCTION IF EXISTS registry_version_bump()")
    op.drop_table("registry_version")
