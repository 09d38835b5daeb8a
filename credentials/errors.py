"""Exceptions raised by the credentials package.

Every error says what was wrong and, where it can, where (a JSON path or a term).
"""

from __future__ import annotations


class CredentialError(Exception):
    """Base class of every error raised by this package."""


class CredentialShapeError(CredentialError, ValueError):
    """A document is not shaped as expected: bad JSON-LD, an undefined term, a relative IRI,
    a missing required field. ``path`` is a dotted JSON path when known."""

    def __init__(self, message: str, *, path: str | None = None, term: str | None = None) -> None:
        self.path = path
        self.term = term
        super().__init__(f"{message} (at {path})" if path else message)


class DocumentLoaderError(CredentialError):
    """The offline document loader was asked for a URL it does not hold."""

    def __init__(self, url: str) -> None:
        self.url = url
        super().__init__(
            f"document {url!r} is not available offline: only the vendored JSON-LD contexts "
            "and documents registered for this run are served, nothing is fetched"
        )


class KeyResolutionError(CredentialError):
    """A verification method (key id) could not be resolved to a public key."""


class StatusListError(CredentialError, ValueError):
    """A Bitstring Status List or status entry is malformed or does not match."""


class JwtError(CredentialError, ValueError):
    """A VC-JWT could not be created or parsed."""


class BakingError(CredentialError, ValueError):
    """An image could not be baked or a credential could not be extracted from it."""
