"""The language menu of a launch's pages (``POST /s/<ls>/language``): the choice is kept on
the person's row (``users.ui_locale``), so every later launch, in any course, opens in it;
the LMS's locale is only the default. Pages outside a launch use ``?lang=`` (i18n.py)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import g, redirect, request, url_for
from flask_babel import gettext
from werkzeug.wrappers import Response

from lti_app import i18n, request_db
from lti_app.auth import current_actor, launch_blueprint, require_launch
from lti_app.db.models import User
from lti_app.errors import AppError

bp = launch_blueprint("language", __name__)


def _next() -> str:
    """Back to the page the menu was on: a page of this launch only, never another site."""
    target = request.form.get("next", "")
    prefix = f"{request.script_root}/s/{g.ls}/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith(prefix) or "\\" in target:
        return url_for("launch.landing")
    return target


@bp.post("/language")
@require_launch
def choose() -> Response:
    code = i18n.language(request.form.get("locale"))
    if code is None or request.form.get("locale") != code:
        raise AppError(gettext("Choose one of the languages in the menu."))
    user = request_db.session().get(User, current_actor().user_id)
    assert user is not None  # a live launch session's user exists (ON DELETE CASCADE)
    user.ui_locale = code
    response = redirect(_next(), 303)
    i18n.remember(response, code)
    return response
