"""Browser-facing hardening: CSRF on every form, security headers on every response.

* CSP: scripts and styles only from our own origin (no inline script), and
  ``frame-ancestors`` limited to this tool and the registered platforms' origins
  (read from the registry, cached for a minute).
* ``Referrer-Policy: no-referrer`` on launch pages and LTI endpoints: their URLs
  carry the launch token.
* HSTS when the request came over HTTPS (through ProxyFix behind a proxy).

Flask-WTF's referrer check for HTTPS (``WTF_CSRF_SSL_STRICT``) is off: the
launch pages send no Referer by design; the CSRF token, kept in the
server-side launch session or the cookie session, is the protection.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, g, request, session
from flask_wtf.csrf import CSRFProtect
from werkzeug.exceptions import BadRequest

from lti_app import request_db
from lti_app.lti.sessions import LaunchSessionData
from lti_app.services import registry

csrf = CSRFProtect()

ORIGINS_TTL = 60.0
_ORIGIN_RE = re.compile(r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?$")
_LOCK = threading.Lock()


def exempt(view: Callable[..., Any]) -> Callable[..., Any]:
    """Exempt a view whose POSTs are authenticated otherwise (signed JWTs, one-time tickets)."""
    return csrf.exempt(view)


def frame_ancestors(app: Flask) -> str:
    cached = app.extensions.get("skillsign.frame_origins")
    now = time.monotonic()
    if cached is not None and now - cached[0] < ORIGINS_TTL:
        return cached[1]
    with _LOCK:
        with request_db.database(app).transaction() as db:
            origins = sorted(registry.frame_origins(db))
        value = " ".join(["'self'", *origins])
        app.extensions["skillsign.frame_origins"] = (now, value)
        return value


def forget_frame_origins(app: Flask) -> None:
    """Recompute the allowed frame origins on the next response (after a registry change)."""
    app.extensions.pop("skillsign.frame_origins", None)


def _launch_frame_origins() -> list[str]:
    """Origins this launch's platform signed (its return URLs): Canvas frames the tool from
    the school's domain, which no registry field names. Known at once, in every process."""
    found = list(g.get("extra_frame_origins") or [])
    current = session._get_current_object()  # type: ignore[attr-defined]
    if isinstance(current, LaunchSessionData) and current.state is not None:
        found.extend(current.get("_frame_origins", []))
    return [o for o in dict.fromkeys(found) if isinstance(o, str) and _ORIGIN_RE.match(o)]


def _headers(response: Response) -> Response:
    from flask import current_app

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    headers = response.headers
    if "Content-Security-Policy" not in headers:
        ancestors = frame_ancestors(app)
        extra = _launch_frame_origins()
        if extra:
            ancestors = " ".join([ancestors, *extra])
        headers["Content-Security-Policy"] = (
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "object-src 'none'; base-uri 'none'; "
            f"frame-ancestors {ancestors}"
        )
    headers.setdefault("X-Content-Type-Options", "nosniff")
    path = request.path
    private = path.startswith(("/s/", "/lti/"))
    headers.setdefault(
        "Referrer-Policy", "no-referrer" if private else "strict-origin-when-cross-origin"
    )
    if private:
        headers.setdefault("Cache-Control", "no-store")
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response


def _refuse_unusable_input() -> None:
    """Input no browser sends but anyone can, refused with a 400 before any view reads it:
    raw non-UTF-8 bytes in the query string (Werkzeug decodes it as strict UTF-8 when
    ``request.args`` is first read: a 500), and NUL characters in a query or form field
    (PostgreSQL cannot store U+0000 in text or JSON: a 500 on the first write)."""
    try:
        request.query_string.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("The query string is not valid UTF-8.") from None
    fields = request.args.items(multi=True)
    if request.method in ("POST", "PUT", "PATCH"):
        fields = [*fields, *request.form.items(multi=True)]
    if any("\x00" in key or "\x00" in value for key, value in fields):
        raise BadRequest("The request contains a NUL character (U+0000), which no field may hold.")


def init_app(app: Flask) -> None:
    # First of all request hooks: CSRF and the views read request.args.
    app.before_request_funcs.setdefault(None, []).insert(0, _refuse_unusable_input)
    app.config.setdefault("WTF_CSRF_SSL_STRICT", False)
    # A launch session lives 8 hours (sliding); the token is bound to it, not to a clock.
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)
    csrf.init_app(app)
    app.after_request(_headers)
