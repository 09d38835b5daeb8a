"""Field checks shared by the credential builders; errors name the JSON path."""

from __future__ import annotations

import re

from .errors import CredentialShapeError

# An absolute IRI as pyld tests it before emitting a triple (anything else is silently dropped),
# minus the characters N-Quads must escape inside <...>, where pyld and rdf-canonize disagree.
ABSOLUTE_IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>\"{}|^`\\\x00-\x20\x7f]*$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


def require_text(value: object, path: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise CredentialShapeError("a non-empty string is required", path=path)
    return value


def require_iri(value: object, path: str) -> str:
    if not isinstance(value, str) or not ABSOLUTE_IRI.match(value):
        raise CredentialShapeError(f"an absolute IRI is required, got {value!r}", path=path)
    return value
