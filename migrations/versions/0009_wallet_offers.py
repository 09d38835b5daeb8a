"""wallet offers: OpenID4VCI offers and nonces, wallet copies of credentials, the name choice

A learner claims their credential into a wallet with an OpenID4VCI credential offer
(``wallet_offers``: hashes of the offer handle, pre-authorized code, transaction code and
access token) and key proofs over our nonces (``wallet_nonces``). Each claim is a new
credential row bound to the wallet's DID (``credentials.holder_did``) that names the credential
it copies (``credentials.copy_of_id``). ``users.name_choice_at`` records when the learner chose
whether their name appears on credentials.

Revision ID: 0009_wallet_offers
Revises: 0007_launch_cost
Create Date: 2026-12-05 14:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from lti_app.db.base import UTCDateTime

revision = "0009_wallet_offers"
down_revision = "0007_launch_cost"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.add_column(sa.Column("copy_of_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("holder_did", sa.String(length=1024), nullable=True))
        batch_op.create_index(batch_op.f("ix_credentials_copy_of_id"), ["copy_of_id"])
        batch_op.create_foreign_key(
            batch_op.f("fk_credentials_copy_of_id_credentials"),
            "credentials",
            ["copy_of_id"],
            ["id"],
        )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("name_choice_at", UTCDateTime(timezone=True), nullable=True))
    op.create_table(
        "wallet_offers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("credential_id", sa.Uuid(), nullable=False),
        sa.Column("learner_id", sa.Integer(), nullable=False),
        sa.Column("handle_hash", sa.String(length=64), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("tx_code_hash", sa.String(length=64), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("redeemed_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("token_expires_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("issued_credential_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["credential_id"],
            ["credentials.id"],
            name=op.f("fk_wallet_offers_credential_id_credentials"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["issued_credential_id"],
            ["credentials.id"],
            name=op.f("fk_wallet_offers_issued_credential_id_credentials"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["learner_id"],
            ["users.id"],
            name=op.f("fk_wallet_offers_learner_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wallet_offers")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_wallet_offers_code_hash")),
        sa.UniqueConstraint("handle_hash", name=op.f("uq_wallet_offers_handle_hash")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_wallet_offers_token_hash")),
    )
    op.create_index("ix_wallet_offers_credential", "wallet_offers", ["credential_id"])
    op.create_table(
        "wallet_nonces",
        sa.Column("nonce_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("nonce_hash", name=op.f("pk_wallet_nonces")),
    )


def downgrade() -> None:
    op.drop_table("wallet_nonces")
    op.drop_index("ix_wallet_offers_credential", table_name="wallet_offers")
    op.drop_table("wallet_offers")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("name_choice_at")
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_credentials_copy_of_id_credentials"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_credentials_copy_of_id"))
        batch_op.drop_column("holder_did")
        batch_op.drop_column("copy_of_id")
