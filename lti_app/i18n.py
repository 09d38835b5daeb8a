"""Locale selection: the launch's ``locale`` claim first, then the browser."""

from __future__ import annotations

from typing import Any

from flask import Flask, g, request
from flask_babel import Babel, get_locale, get_translations

LANGUAGES = ("en", "es")


def _select_locale() -> str:
    launch_locale = getattr(g, "launch_locale", None)
    if launch_locale:
        base = launch_locale.replace("_", "-").split("-")[0].lower()
        if base in LANGUAGES:
            return base
    return request.accept_languages.best_match(LANGUAGES) or "en"


def _catalogue() -> Any:
    """The request's translations, looked up once per request and locale.

    flask-babel's template callables look the catalogue up on every ``_()`` (its context on
    ``g``, its cache, the locale's string): a quarter of the learner's checklist page went
    there (py-spy, bench/README.md "Profiling"). The locale flask-babel settled on is the
    key, so a locale chosen later in the request (the launch's, ``g.launch_locale``) is seen.
    """
    babel = getattr(g, "_flask_babel", None)
    locale = getattr(babel, "babel_locale", None)
    cached = getattr(g, "_skillsign_catalogue", None)
    if cached is not None and locale is not None and cached[0] is locale:
        return cached[1]
    translations = get_translations()  # settles the locale if nothing asked for it yet
    g._skillsign_catalogue = (getattr(g._flask_babel, "babel_locale", None), translations)
    return translations


def init_app(app: Flask) -> None:
    Babel(app, locale_selector=_select_locale)
    # The same callables flask-babel installs, over the per-request catalogue.
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=lambda s: _catalogue().ugettext(s),
        ngettext=lambda s, p, n: _catalogue().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: _catalogue().upgettext(c, s),
        npgettext=lambda c, s, p, n: _catalogue().unpgettext(c, s, p, n),
    )

    @app.context_processor
    def _locale() -> dict[str, str]:
        return {"current_locale": str(get_locale() or "en")}
