"""Locale selection, one language per page:

1. on a launch's pages, the language the person chose in the menu (``users.ui_locale``);
2. the launch's ``locale`` claim (the LMS's language is only the default);
3. elsewhere (public pages, error pages), ``?lang=`` or the language remembered from it in
   a cookie (the launch pages' menu sets it too, so credential pages follow);
4. the browser's ``Accept-Language``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, g, request
from flask_babel import Babel, get_locale, get_translations
from sqlalchemy import select
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import BadRequest
from werkzeug.wrappers import Response as BaseResponse

LANGUAGES = ("en", "es")
NAMES = {"en": "English", "es": "Español"}  # each in its own language, as menus show them
COOKIE = "skillsign_lang"
COOKIE_MAX_AGE = 365 * 24 * 3600


def language(value: str | None) -> str | None:
    """The supported language a tag such as ``es-MX`` or ``es_ES`` names, or None."""
    if not value:
        return None
    base = value.replace("_", "-").split("-")[0].lower()
    return base if base in LANGUAGES else None


def _query() -> MultiDict[str, str]:
    """The query's parameters, or none when it cannot be read (e.g. not UTF-8): the error
    page that answers such a request still needs a language and a menu."""
    try:
        return request.args
    except (BadRequest, UnicodeDecodeError):
        return MultiDict()


def menu_links() -> list[tuple[str, str, str]]:
    """(code, name, address) of this page in each language, for pages outside a launch."""
    kept = [(k, v) for k, v in _query().items(multi=True) if k != "lang"]
    return [
        (code, name, f"{request.path}?{urlencode([*kept, ('lang', code)])}")
        for code, name in NAMES.items()
    ]


def _chosen_by_user() -> str | None:
    user_id = g.get("launch_user_id")
    if user_id is None:
        return None
    if "launch_ui_locale" in g:  # read with the launch session (lti/sessions.py)
        return language(g.launch_ui_locale)
    from lti_app import request_db
    from lti_app.db.models import User

    return language(request_db.session().scalar(select(User.ui_locale).where(User.id == user_id)))


def _select_locale() -> str:
    return (
        _chosen_by_user()
        or language(getattr(g, "launch_locale", None))
        or language(_query().get("lang"))
        or language(request.cookies.get(COOKIE))
        or request.accept_languages.best_match(LANGUAGES)
        or "en"
    )


def remember(response: BaseResponse, code: str) -> None:
    """Keep a chosen language for the pages outside a launch (no personal data in it)."""
    response.set_cookie(
        COOKIE,
        code,
        max_age=COOKIE_MAX_AGE,
        secure=request.is_secure,
        httponly=True,
        samesite="Lax",
    )


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
    def _locale() -> dict[str, Any]:
        return {
            "current_locale": str(get_locale() or "en"),
            "languages": NAMES,
            "language_links": menu_links,
        }

    @app.after_request
    def _remember_lang(response: Response) -> Response:
        chosen = language(_query().get("lang"))
        if chosen and request.cookies.get(COOKIE) != chosen:
            remember(response, chosen)
        return response
