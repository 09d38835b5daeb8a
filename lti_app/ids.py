"""Database ids from URLs and forms, checked in one place.

Our integer primary keys are SQL INTEGER columns (migrations/versions/0001): on PostgreSQL
1 to 2**31 - 1. Anything else cannot name a row, so it must never reach the database, where
PostgreSQL answers "integer out of range" (already from 2**31) and SQLite "Python int too large"
(from 2**63), both a 500. In a URL such an id is simply "no such page" (404); in a form it is a
bad request that says which field was wrong (400). Should the keys ever become BIGINT, raise
MAX_DB_ID to 2**63 - 1 here and nowhere else.
"""

from __future__ import annotations

from flask import Flask
from flask_babel import gettext
from werkzeug.routing import IntegerConverter, ValidationError

from lti_app.services.errors import AppError

MAX_DB_ID = 2**31 - 1  # PostgreSQL INTEGER
_MAX_DIGITS = len(str(MAX_DB_ID))


def parse_db_id(raw: str) -> int | None:
    """``raw`` as a database id, or None when it cannot be one (sign, spaces, 0, > MAX_DB_ID)."""
    # isascii + isdigit: int() also takes "+5", " 5", "5_0" and non-ASCII digits such as "٥".
    if not raw or not raw.isascii() or not raw.isdigit() or len(raw) > _MAX_DIGITS:
        return None
    value = int(raw)
    return value if 1 <= value <= MAX_DB_ID else None


class DbIdConverter(IntegerConverter):
    """``<dbid:name>``: a database id, else the rule does not match (404)."""

    regex = r"\d+"

    def to_python(self, value: str) -> int:
        parsed = parse_db_id(value)
        if parsed is None:
            raise ValidationError()
        return parsed


class BadFormId(AppError):
    code = "form.bad_id"


def form_id(name: str, raw: str) -> int:
    """One id from a form field; BadFormId (400) naming the field when it is not one."""
    parsed = parse_db_id(raw)
    if parsed is None:
        raise BadFormId(
            gettext(
                "The field %(field)s must hold an id from 1 to %(max)s.",
                field=name,
                max=MAX_DB_ID,
            )
        )
    return parsed


def init_app(app: Flask) -> None:
    app.url_map.converters["dbid"] = DbIdConverter
