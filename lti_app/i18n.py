"""Locale selection: the launch's ``locale`` claim first, then the browser."""

from __future__ import annotations

from flask import Flask, g, request
from flask_babel import Babel, get_locale

LANGUAGES = ("en", "es")


def _select_locale() -> str:
    launch_locale = getattr(g, "launch_locale", None)
    if launch_locale:
        base = launch_locale.replace("_", "-").split("-")[0].lower()
        if base in LANGUAGES:
            return base
    return request.accept_languages.best_match(LANGUAGES) or "en"


def init_app(app: Flask) -> None:
    Babel(app, locale_selector=_select_locale)

    @app.context_processor
    def _locale() -> dict[str, str]:
        return {"current_locale": str(get_locale() or "en")}
