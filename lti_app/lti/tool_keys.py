"""The tool's own RSA keys (from the ``keys`` store), as LTI needs them.

The JWKS at ``/.well-known/jwks.json`` lists every *published* RSA key: the
active one and, during a rotation's grace period, the previous one, so
platforms that cached our old key keep verifying what it signed.
"""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives import serialization
from flask import Flask, current_app

from keys import KeyKind, KeyStore

JWKS_CACHE_SECONDS = 60.0


class ToolKeys:
    """Signing material for one key-store directory, with a small JWKS cache."""

    def __init__(self, directory: str) -> None:
        self.store = KeyStore(directory)
        self._lock = threading.Lock()
        self._jwks: tuple[Any, float, float | None, dict[str, Any]] | None = None

    def active_kid(self) -> str:
        return self.store.ensure(KeyKind.RSA).kid

    def private_pem(self) -> str:
        kid = self.active_kid()
        key = self.store.private_key(kid)
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode("ascii")

    def public_pem(self) -> str:
        key = self.store.public_key(self.active_kid())
        return key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode("ascii")

    def _index_mtime(self) -> float:
        try:
            return os.stat(self.store.directory / "index.json").st_mtime_ns / 1e9
        except FileNotFoundError:
            return 0.0

    def jwks(self) -> dict[str, Any]:
        """Published RSA keys; recomputed on rotation, grace expiry or after a minute."""
        now = time.time()
        mtime = self._index_mtime()
        cached = self._jwks
        if cached is not None:
            made_at, made_mtime, valid_until, value = cached
            fresh = now - made_at < JWKS_CACHE_SECONDS and made_mtime == mtime
            if fresh and (valid_until is None or now < valid_until):
                return value
        with self._lock:
            if mtime == 0.0:
                self.store.ensure(KeyKind.RSA)
                mtime = self._index_mtime()
            moment = datetime.now(UTC)
            value = self.store.public_jwks(KeyKind.RSA, moment)
            # The set changes when a retiring key's grace period ends: recompute then.
            ends = [
                r.publish_until.timestamp()
                for r in self.store.published(KeyKind.RSA, moment)
                if r.publish_until is not None
            ]
            self._jwks = (now, mtime, min(ends) if ends else None, value)
            return value


def init_app(app: Flask) -> None:
    app.extensions["skillsign.tool_keys"] = ToolKeys(app.config["KEYS_DIR"])


def tool_keys(app: Flask | None = None) -> ToolKeys:
    return (app or current_app).extensions["skillsign.tool_keys"]
