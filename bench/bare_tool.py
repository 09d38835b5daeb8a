"""The floor: a minimal pylti1p3 Flask tool that only validates the launch.

It does what every LTI 1.3 tool must (OIDC login with state and nonce, id_token signature
against the platform's JWKS, iss/aud/nonce/deployment checks) and nothing more: no
database, no users, no page beyond one line of HTML. Launch state lives in Flask's signed
session cookie (pylti1p3's default), so any worker can take any request; the platform's keys
are cached per process (pylti1p3's public key cache, its best case).

Served by gunicorn like the product: ``gunicorn -w 2 'bench.bare_tool:create_app()'`` with
``BARE_LTI_CONFIG`` naming a JSON file::

    {"issuer": ..., "client_id": ..., "auth_login_url": ..., "auth_token_url": ...,
     "key_set_url": ..., "deployment_id": ...}
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from flask import Flask, request
from pylti1p3.contrib.flask import (
    FlaskCacheDataStorage,
    FlaskMessageLaunch,
    FlaskOIDCLogin,
    FlaskRequest,
)
from pylti1p3.tool_config import ToolConfDict


class MemoryCache:
    """The cache pylti1p3's FlaskCacheDataStorage expects (get / set with a timeout)."""

    def __init__(self) -> None:
        self._data: dict[str, tuple[float, Any]] = {}

    def get(self, key: str) -> Any:
        found = self._data.get(key)
        if found is None or (found[0] and found[0] < time.time()):
            return None
        return found[1]

    def set(self, key: str, value: Any, exp: int | None = None) -> None:
        self._data[key] = ((time.time() + exp) if exp else 0.0, value)


def build(settings: dict[str, str], secret_key: str) -> Flask:
    app = Flask("bare_pylti1p3")
    app.secret_key = secret_key
    config = ToolConfDict(
        {
            settings["issuer"]: [
                {
                    "default": True,
                    "client_id": settings["client_id"],
                    "auth_login_url": settings["auth_login_url"],
                    "auth_token_url": settings["auth_token_url"],
                    "key_set_url": settings["key_set_url"],
                    "deployment_ids": [settings["deployment_id"]],
                }
            ]
        }
    )
    key_cache = FlaskCacheDataStorage(MemoryCache())

    @app.route("/lti/login", methods=["GET", "POST"])
    def login() -> Any:
        return FlaskOIDCLogin(FlaskRequest(), config).redirect(request.values["target_link_uri"])

    @app.post("/lti/launch")
    def launch() -> Any:
        message = FlaskMessageLaunch(FlaskRequest(), config)
        message.set_public_key_caching(key_cache, cache_lifetime=7200)
        data = message.get_launch_data()
        return f"<!doctype html><title>ok</title><p>hello {data.get('sub')}</p>"

    @app.get("/healthz")
    def healthz() -> str:
        return "ok"

    return app


def create_app() -> Flask:
    settings = json.loads(Path(os.environ["BARE_LTI_CONFIG"]).read_text(encoding="utf-8"))
    return build(settings, os.environ["BARE_LTI_SECRET_KEY"])
