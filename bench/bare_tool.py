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

The *secure floor* is the same tool with ``BARE_SECURE_DATABASE_URL`` set: each launch also
consumes its nonce in PostgreSQL (a replay to another worker or host is refused) and upserts
its user, in one transaction: what any tool that is safe behind several workers and keeps
its users must do. The ratio to it is what skillsign adds beyond that.
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


class SecureFloor:
    """A nonce consumed once and a user upserted, in one transaction (PostgreSQL)."""

    SCHEMA = (
        "CREATE TABLE IF NOT EXISTS secure_floor_nonces ("
        " nonce varchar(255) PRIMARY KEY, expires_at timestamptz NOT NULL)",
        "CREATE TABLE IF NOT EXISTS secure_floor_users ("
        " id serial PRIMARY KEY, issuer varchar(512) NOT NULL, sub varchar(255) NOT NULL,"
        " name varchar(512), email varchar(512), last_seen_at timestamptz NOT NULL,"
        " UNIQUE (issuer, sub))",
    )
    NONCE = (
        "INSERT INTO secure_floor_nonces (nonce, expires_at)"
        " VALUES (%s, now() + interval '1 hour') ON CONFLICT DO NOTHING RETURNING nonce"
    )
    USER = (
        "INSERT INTO secure_floor_users (issuer, sub, name, email, last_seen_at)"
        " VALUES (%s, %s, %s, %s, now()) ON CONFLICT (issuer, sub) DO UPDATE"
        " SET name = excluded.name, email = excluded.email,"
        " last_seen_at = excluded.last_seen_at RETURNING id"
    )

    def __init__(self, url: str) -> None:
        import psycopg

        # One connection per worker, opened on first use (gunicorn forks after import).
        self._url = url.replace("postgresql+psycopg://", "postgresql://", 1)
        self._connect = psycopg.connect
        self._conn: Any = None
        # Both workers boot at once, and two concurrent CREATE TABLE IF NOT EXISTS can still
        # collide in PostgreSQL's catalogue: one at a time, under an advisory lock.
        with self._connect(self._url) as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('secure_floor_schema'))")
            for statement in self.SCHEMA:
                conn.execute(statement)

    def record(self, data: dict[str, Any]) -> None:
        if self._conn is None or self._conn.closed:
            self._conn = self._connect(self._url)
        with self._conn.transaction():
            if self._conn.execute(self.NONCE, (str(data.get("nonce")),)).fetchone() is None:
                raise PermissionError("nonce already used")
            self._conn.execute(
                self.USER,
                (data.get("iss"), data.get("sub"), data.get("name"), data.get("email")),
            ).fetchone()


def build(settings: dict[str, str], secret_key: str, database_url: str | None = None) -> Flask:
    app = Flask("bare_pylti1p3")
    secure = SecureFloor(database_url) if database_url else None
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
        if secure is not None:
            try:
                secure.record(data)
            except PermissionError:
                return "<!doctype html><title>replay</title><p>replayed launch</p>", 401
        return f"<!doctype html><title>ok</title><p>hello {data.get('sub')}</p>"

    @app.get("/healthz")
    def healthz() -> str:
        return "ok"

    return app


def create_app() -> Flask:
    settings = json.loads(Path(os.environ["BARE_LTI_CONFIG"]).read_text(encoding="utf-8"))
    return build(
        settings, os.environ["BARE_LTI_SECRET_KEY"], os.environ.get("BARE_SECURE_DATABASE_URL")
    )
