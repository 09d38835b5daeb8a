"""LTI 1.3 glue around pylti1p3: the tool's side of the launch.

pylti1p3 2.0.0 does the message plumbing (message validators, deep linking
response, launch data); the parts where it falls short (docs/architecture.md §4: nonces,
platform JWKS caching, ``aud``/``azp``, roles, state binding, timeouts) are
replaced here and each replacement says why.
"""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Per-app LTI machinery: outbound HTTP, key caches, launch sessions, CSRF and headers."""
    from lti_app import auth, security
    from lti_app.lti import http, jwks, sessions, tool_keys

    http.init_app(app)
    jwks.init_app(app)
    tool_keys.init_app(app)
    sessions.init_app(app)
    auth.init_app(app)
    security.init_app(app)
