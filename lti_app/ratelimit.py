"""Rate limits on the public endpoints that do real work for anyone: credential verification
and dynamic registration.

Verifying a credential canonicalises JSON-LD and checks signatures; ``/verify`` and
``/api/v1/verify`` take uploads from strangers with no login. Each client address
(``request.remote_addr``: behind a proxy set ``SKILLSIGN_PROXY_FIX``) gets
``SKILLSIGN_RATELIMIT_VERIFY`` POSTs. ``/lti/register`` makes two calls to a server the
caller names, so each address gets ``SKILLSIGN_RATELIMIT_REGISTER`` requests. Counters
live in memory by default, which is per process: with several gunicorn workers or hosts,
point ``SKILLSIGN_RATELIMIT_STORAGE_URI`` at Redis (``redis://host:6379/0``) so they
share one count.

One limiter per app (no module-level state): tests and tools build many apps in one process.
"""

from __future__ import annotations

from typing import cast

from flask import Flask
from flask.typing import RouteCallable
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits import parse_many

from lti_app.config import ConfigError

# Endpoints limited by SKILLSIGN_RATELIMIT_VERIFY (POST only: the forms themselves are cheap).
VERIFY_ENDPOINTS = ("verify.verify_page", "verify.verify_api")
# Endpoint limited by SKILLSIGN_RATELIMIT_REGISTER (GET: the platform opens it in a window).
REGISTER_ENDPOINTS = ("lti.register",)
# Endpoints limited by SKILLSIGN_RATELIMIT_WALLET (POST): the OpenID4VCI token endpoint, where a
# stranger could guess transaction codes, and the credential endpoint, which signs.
WALLET_ENDPOINTS = ("oid4vci.token", "oid4vci.credential")


def init_app(app: Flask) -> Limiter:
    """Attach the limiter; call after the blueprints are registered."""
    for key in ("RATELIMIT_VERIFY", "RATELIMIT_REGISTER", "RATELIMIT_WALLET"):
        try:  # fail at start, with the setting's name, not at the first request
            parse_many(app.config[key])
        except ValueError as exc:
            raise ConfigError(
                f"SKILLSIGN_{key}: expected e.g. '60 per minute;600 per hour', "
                f"got {app.config[key]!r} ({exc})"
            ) from None
    limiter = Limiter(
        key_func=get_remote_address,
        storage_uri=app.config["RATELIMIT_STORAGE_URI"],
        headers_enabled=True,  # X-RateLimit-* and Retry-After tell a client when to come back
        key_prefix="skillsign",
    )
    limiter.init_app(app)
    limited = (
        [(e, "RATELIMIT_VERIFY", "POST") for e in VERIFY_ENDPOINTS]
        + [(e, "RATELIMIT_REGISTER", "GET") for e in REGISTER_ENDPOINTS]
        + [(e, "RATELIMIT_WALLET", "POST") for e in WALLET_ENDPOINTS]
    )
    for endpoint, key, method in limited:
        view = app.view_functions.get(endpoint)
        if view is not None:
            # The limit is checked by the wrapper, so the wrapper must be what the route calls.
            # flask-limiter types its wrapper as maybe async: for a sync view it is sync.
            wrapped = limiter.limit(app.config[key], methods=[method])(view)
            app.view_functions[endpoint] = cast("RouteCallable", wrapped)
    app.extensions["skillsign.limiter"] = limiter
    return limiter
