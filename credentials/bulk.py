"""Signing many credentials at once (a bulk import, a whole cohort completing a level).

Each eddsa-rdfc-2022 signature costs a few milliseconds of JSON-LD work on one core, under
one process-wide lock (pyld's caches are not thread-safe), so threads cannot share it out. A
large batch is split over worker processes instead, one per core; a small one is signed
here, where starting processes (about half a second: each imports pyld and processes the
contexts once) would cost more than it saves.

Workers are started with ``spawn``, never ``fork``: the caller may be a threaded server whose
other threads hold locks (pyld's, a database pool's) that a forked child would inherit held.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from . import data_integrity
from .timefmt import format_datetime, now_utc

log = logging.getLogger("credentials.bulk")

# Below this many documents per worker, starting the workers costs more than it saves.
MIN_PER_PROCESS = 150
# Work is handed out in slices, so a worker that finishes early takes another.
_SLICES_PER_PROCESS = 4

# Set in each worker process by _start_worker.
_worker_key: Ed25519PrivateKey | None = None
_worker_args: tuple[str, str, bool] | None = None


def default_processes(count: int) -> int:
    """How many processes :func:`sign_documents` uses for ``count`` documents by default."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(cores or 1, count // MIN_PER_PROCESS))


def sign_documents(
    documents: Sequence[Mapping[str, Any]],
    private_key: Ed25519PrivateKey,
    verification_method: str,
    *,
    created: datetime | str | None = None,
    proof_set: bool = True,
) -> list[dict[str, Any]]:
    """Each document signed as :func:`data_integrity.sign` would, in the same order, in as
    many worker processes as :func:`default_processes` picks (one: in this process). Any
    error (a document that does not sign cleanly) is raised here, and no result is returned.

    ``proof`` is written as a one-element array by default: this is how OpenBadgeCredentials
    are issued, since 1EdTech's OB 3.0 JSON schema requires an array (docs/architecture.md §5).
    """
    if not documents:
        return []
    stamp = format_datetime(created if created is not None else now_utc(), field="created")
    workers = min(default_processes(len(documents)), len(documents))
    if workers > 1:
        try:
            return _in_processes(
                documents, private_key, verification_method, stamp, workers, proof_set
            )
        except BrokenProcessPool as error:
            # A worker could not start or died (a main module that runs code on import, the
            # memory limit): the batch is still signed, here, just more slowly.
            log.warning("signing in %d processes failed (%s); signing here", workers, error)
    return [
        data_integrity.sign(
            document, private_key, verification_method, created=stamp, proof_set=proof_set
        )
        for document in documents
    ]


def _in_processes(
    documents: Sequence[Mapping[str, Any]],
    private_key: Ed25519PrivateKey,
    verification_method: str,
    created: str,
    workers: int,
    proof_set: bool,
) -> list[dict[str, Any]]:
    seed = private_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    size = -(-len(documents) // (workers * _SLICES_PER_PROCESS))
    slices = [list(documents[i : i + size]) for i in range(0, len(documents), size)]
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_start_worker,
        initargs=(seed, verification_method, created, proof_set),
    ) as pool:
        signed: list[dict[str, Any]] = []
        for part in pool.map(_sign_slice, slices):
            signed.extend(part)
    return signed


def _start_worker(seed: bytes, verification_method: str, created: str, proof_set: bool) -> None:
    global _worker_key, _worker_args
    _worker_key = Ed25519PrivateKey.from_private_bytes(seed)
    _worker_args = (verification_method, created, proof_set)


def _sign_slice(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    assert _worker_key is not None and _worker_args is not None, "not a signing worker"
    verification_method, created, proof_set = _worker_args
    return [
        data_integrity.sign(
            document, _worker_key, verification_method, created=created, proof_set=proof_set
        )
        for document in documents
    ]
