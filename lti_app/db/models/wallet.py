"""Claiming a credential into a wallet (OpenID4VCI 1.0, pre-authorized code flow).

Only SHA-256 hashes of the secrets are stored (the offer handle, the pre-authorized code, the
transaction code, the access token, the nonce): a copy of the database claims nothing.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from lti_app.db.base import Base, utcnow


class WalletOffer(Base):
    """One credential offer: made by the credential's learner, valid minutes, usable once.

    Its life: made -> the pre-authorized code is exchanged for an access token (``redeemed_at``)
    -> the token buys exactly one credential (``issued_credential_id``)."""

    __tablename__ = "wallet_offers"
    __table_args__ = (Index("ix_wallet_offers_credential", "credential_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    credential_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("credentials.id", ondelete="CASCADE")
    )
    learner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    handle_hash: Mapped[str] = mapped_column(String(64), unique=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    tx_code_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    redeemed_at: Mapped[datetime | None]
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    token_expires_at: Mapped[datetime | None]
    issued_credential_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("credentials.id", ondelete="SET NULL")
    )


class WalletNonce(Base):
    """A ``c_nonce`` from the nonce endpoint; a key proof may use it once, while it is fresh."""

    __tablename__ = "wallet_nonces"

    nonce_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
