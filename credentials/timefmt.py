"""XML Schema dateTimeStamp values as VC 2.0 uses them (``2024-05-01T12:00:00Z``)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from .errors import CredentialShapeError

# dateTimeStamp: the time zone is mandatory (VC 2.0 validFrom/validUntil, proof created).
_DATETIME_STAMP = re.compile(
    r"^-?\d{4,}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$"
)


def format_datetime(value: datetime | str, *, field: str = "dateTime") -> str:
    """``datetime`` (timezone-aware) -> ``YYYY-MM-DDTHH:MM:SSZ`` in UTC, whole seconds.
    A string is checked and returned unchanged."""
    if isinstance(value, str):
        parse_datetime(value, field=field)
        return value
    if not isinstance(value, datetime):
        raise CredentialShapeError(f"{field} must be a datetime or a string", path=field)
    if value.tzinfo is None or value.utcoffset() is None:
        raise CredentialShapeError(f"{field} must be timezone-aware (naive datetime)", path=field)
    return value.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_datetime(value: object, *, field: str = "dateTime") -> datetime:
    """Parse a dateTimeStamp string into an aware datetime."""
    if not isinstance(value, str) or not _DATETIME_STAMP.match(value):
        raise CredentialShapeError(
            f"{field} must be an XML Schema dateTimeStamp such as 2024-05-01T12:00:00Z, "
            f"got {value!r}",
            path=field,
        )
    try:
        return datetime.fromisoformat(value)
    except ValueError as error:
        raise CredentialShapeError(
            f"{field} {value!r} is not a valid date: {error}", path=field
        ) from error


def now_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)
