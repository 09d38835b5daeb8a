"""Translatable domain errors for services that must not import Flask.

A service raises ``UserError(N_("... %(x)s ..."), x=...)``: the English text
becomes ``detail`` (what logs, the CLI and problem+json show), and a page can
translate ``msgid`` with ``params`` in the reader's language. ``N_`` only marks
the text for ``pybabel extract`` (babel.cfg lists it as a keyword).
"""

from __future__ import annotations

from typing import Any

from lti_app.services.errors import AppError


def N_(message: str) -> str:  # the gettext convention: mark for extraction, do not translate
    return message


_TITLES = {403: "Not allowed", 404: "Not found", 409: "Conflict", 413: "Too large"}


class UserError(AppError):
    """A refusal whose message can be shown translated."""

    def __init__(self, msgid: str, *, status: int | None = None, **params: Any) -> None:
        self.msgid = msgid
        self.params = params
        title = _TITLES.get(status or self.status)
        super().__init__(msgid % params if params else msgid, status=status, title=title)
