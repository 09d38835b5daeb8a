"""Revocation status lists: index allocation, bit flips, and the signed list credential.

Indexes are handed out by one atomic ``UPDATE ... SET next_index = next_index + 1 ...
RETURNING``, so concurrent issuances for different learners never get the same bit; a full
list is followed by a new one. Flipping a bit first takes the row's write lock (an UPDATE), then
reads the bits, so two revocations at once never lose one another's change.

The list credential is signed **on read**, not stored: the output is a pure function of the bits,
the list's dates and the key (Ed25519 signatures are deterministic), so every app process serves
the same bytes, a key rotation needs no re-signing pass, and a per-process cache keyed by those
inputs makes repeated reads free. A change of bits (or of key) changes the key of the cache.
"""

from __future__ import annotations

import copy
import hashlib
import threading
from collections import OrderedDict
from typing import Any

from sqlalchemy import Row, func, select, update
from sqlalchemy.orm import Session

from credentials import data_integrity
from credentials import status_list as bitstring
from lti_app.db import utcnow
from lti_app.db.models import StatusList
from lti_app.services.issuer import IssuerContext, Signer

LIST_BITS = bitstring.MIN_BITS  # 131,072: the spec's minimum, for herd privacy
PURPOSE = "revocation"
_CACHE_SIZE = 64
_cache: OrderedDict[tuple[Any, ...], dict[str, Any]] = OrderedDict()
_cache_lock = threading.Lock()


def allocate(session: Session, purpose: str = PURPOSE) -> tuple[StatusList, int]:
    """(list, index) of a fresh bit, in the caller's transaction."""
    return allocate_many(session, 1, purpose)[0]


def allocate_many(
    session: Session, count: int, purpose: str = PURPOSE
) -> list[tuple[StatusList, int]]:
    """``count`` fresh bits in index order, in the caller's transaction: one UPDATE for the
    whole batch while the newest list has room (a bulk import takes 1,000 in one statement)."""
    if count < 1:
        raise ValueError(f"count must be at least 1, got {count}")
    slots: list[tuple[StatusList, int]] = []
    for _ in range(2 * (count // LIST_BITS) + 4):  # per list: a partial take, a new list
        need = count - len(slots)
        newest = (
            select(func.max(StatusList.id)).where(StatusList.purpose == purpose).scalar_subquery()
        )
        taken: Row[int, int] | Row[int, int, int] | None = session.execute(
            update(StatusList)
            .where(StatusList.id == newest, StatusList.next_index + need <= StatusList.size)
            .values(next_index=StatusList.next_index + need)
            .returning(StatusList.id, StatusList.next_index)
            .execution_options(synchronize_session=False)
        ).first()
        if taken is not None:
            start = taken.next_index - need
        else:
            # The newest list cannot hold the whole batch (or there is none): take what it has
            # left. The no-op UPDATE locks the row first, so the count read is the real one.
            left = session.execute(
                update(StatusList)
                .where(StatusList.id == newest, StatusList.next_index < StatusList.size)
                .values(next_index=StatusList.next_index)
                .returning(StatusList.id, StatusList.next_index, StatusList.size)
                .execution_options(synchronize_session=False)
            ).first()
            if left is None:
                # No list yet, or the newest is full: start another. Two transactions doing
                # this at once make two lists; the second is simply used from then on.
                session.add(
                    StatusList(
                        purpose=purpose, size=LIST_BITS, bits=bytes(LIST_BITS // 8), next_index=0
                    )
                )
                session.flush()
                continue
            need = min(need, left.size - left.next_index)
            start = left.next_index
            session.execute(
                update(StatusList)
                .where(StatusList.id == left.id)
                .values(next_index=start + need)
                .execution_options(synchronize_session=False)
            )
            taken = left
        row = session.get(StatusList, taken.id, populate_existing=True)
        assert row is not None
        slots.extend((row, index) for index in range(start, start + need))
        if len(slots) == count:
            return slots
    raise RuntimeError("could not allocate status list indexes")  # pragma: no cover


def set_bit(session: Session, list_id: int, index: int, value: bool = True) -> StatusList:
    """Set (or clear) one bit, serialised against every other change of the list."""
    # The UPDATE takes the row lock (PostgreSQL) or the write lock (SQLite) before we read.
    session.execute(
        update(StatusList)
        .where(StatusList.id == list_id)
        .values(updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    row = session.get(StatusList, list_id, populate_existing=True)
    if row is None:
        raise LookupError(f"status list {list_id} does not exist")
    bits = bitstring.StatusList(bits=row.bits)
    bits.set(index, value)
    row.bits = bits.to_bytes()
    session.flush()
    return row


def is_set(row: StatusList, index: int) -> bool:
    return bitstring.StatusList(bits=row.bits).get(index)


def list_signer(issuer: IssuerContext, kid: str | None) -> Signer:
    """The key a list URL names (did:key), or the active key under our did:web."""
    if kid is None:
        active = issuer.signer()
        return issuer.signer_for(active.kid, "web")
    return issuer.signer_for(kid, "key")


def signed_list(
    session: Session, issuer: IssuerContext, list_id: int, kid: str | None = None
) -> dict[str, Any] | None:
    """The signed BitstringStatusListCredential at ``issuer.status_list_url(list_id, ...)``;
    None if there is no such list. An unknown or retired ``kid`` raises NotFound."""
    row = session.get(StatusList, list_id)
    if row is None:
        return None
    signer = list_signer(issuer, kid)
    url = issuer.status_list_url(list_id, signer)
    created = row.updated_at or row.created_at
    key = (
        url,
        signer.kid,
        signer.issuer_did,
        row.purpose,
        row.created_at,
        created,
        hashlib.sha256(row.bits).digest(),
    )
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None:
            _cache.move_to_end(key)
            return copy.deepcopy(cached)
    unsigned = bitstring.build_status_list_credential(
        url, signer.issuer_did, row.bits, row.created_at, status_purpose=row.purpose
    )
    signed = data_integrity.sign(
        unsigned, signer.private_key, signer.verification_method, created=created
    )
    with _cache_lock:
        _cache[key] = signed
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return copy.deepcopy(signed)
