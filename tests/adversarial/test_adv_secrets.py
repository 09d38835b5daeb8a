"""Secrets stay secret: key files are private to their owner, and no key, token or id_token
body reaches the logs during a whole launch, sign-off and grade passback (plus a forged and a
replayed launch, whose refusals are logged).

Logs are captured from the root logger at DEBUG (every library included) and checked twice:
as the app's JSON formatter writes them, and as raw records (what any other handler, such
as an error tracker, would receive). Records of the test platforms' own web servers
(logger ``werkzeug``) are not the tool's logs and are left out.
"""

from __future__ import annotations

import io
import logging
import re
import stat
from pathlib import Path
from typing import Any

import pytest
from flask import session as flask_session
from flask_wtf.csrf import generate_csrf
from sqlalchemy import select
from support.adversarial_launch import TOOL_URL, browser_cookie, launch
from support.adversarial_tokens import load_private, sign_rs
from support.lti_platform import INSTRUCTOR, LEARNER, LaunchPlatform, LaunchSpec, rsa_pem
from support.services_platform import CLIENT_ID, IndependentPlatform
from werkzeug.datastructures import MultiDict

from frameworks import load
from keys import KeyKind, KeyStore
from lti_app.config import load_settings
from lti_app.db.models import FrameworkVersion, OutboxMessage, Platform, ResourceLink, User
from lti_app.lms import SCOPE_LINEITEM, SCOPE_SCORE, AccessTokenCache
from lti_app.lms import claims as c
from lti_app.logs import JsonFormatter
from lti_app.lti.login import BROWSER_COOKIE
from lti_app.services.frameworks import import_framework
from lti_app.worker import Worker

pytestmark = pytest.mark.slow


def test_key_files_and_the_secret_are_owner_only(app, runner):
    store = KeyStore(app.config["KEYS_DIR"])
    store.ensure(KeyKind.RSA)
    store.ensure(KeyKind.ED25519)
    store.rotate(KeyKind.RSA, None)
    assert runner.invoke(args=["keys", "ensure"]).exit_code == 0
    keys_dir = Path(app.config["KEYS_DIR"])
    assert stat.S_IMODE(keys_dir.stat().st_mode) == 0o700
    files = [p for p in keys_dir.rglob("*") if p.is_file()]
    private = [p for p in files if b"PRIVATE KEY" in p.read_bytes()]
    assert len(private) >= 3
    for path in files:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, f"{path.name} is mode {oct(mode)}: readable by others"
    # The development secret a fresh instance makes for itself.
    instance = Path(app.config["INSTANCE_DIR"]) / "fresh"
    load_settings(environ={"SKILLSIGN_INSTANCE_DIR": str(instance)})
    assert stat.S_IMODE((instance / "secret_key").stat().st_mode) == 0o600


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.formatter_json = JsonFormatter()

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith("werkzeug"):
            self.records.append(record)

    def formatted(self) -> list[str]:
        return [self.formatter_json.format(r) for r in self.records]

    def raw(self) -> list[str]:
        out = []
        for record in self.records:
            parts = [record.getMessage(), repr(record.args)]
            parts += [
                repr(v) for k, v in record.__dict__.items() if k not in ("args", "msg", "message")
            ]
            if record.exc_info:
                parts.append(logging.Formatter().formatException(record.exc_info))
            out.append(" ".join(parts))
        return out


@pytest.fixture
def capture():
    root = logging.getLogger()
    handler = Capture()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(level)


def _pem_lines(pem: str | bytes) -> list[str]:
    text = pem.decode() if isinstance(pem, bytes) else pem
    return [line for line in text.splitlines() if len(line) >= 40 and "-----" not in line]


def _token_parts(token: str) -> list[str]:
    """A compact JWS and each of its parts (a header, a body, a signature)."""
    return [token, *[part for part in token.split(".") if len(part) >= 24]]


def test_no_secret_reaches_the_logs(app, db, client, capture, seed_path):
    tool_store = KeyStore(app.config["KEYS_DIR"])
    tool_store.ensure(KeyKind.RSA)
    lms = IndependentPlatform(tool_jwks=tool_store.public_jwks(KeyKind.RSA)).start()
    seen_assertions: list[str] = []
    inner = lms.app

    def record_assertions(environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") == "/token":
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            seen_assertions.extend(re.findall(r"client_assertion=([^&]+)", body.decode()))

            environ["wsgi.input"] = io.BytesIO(body)  # the platform reads it again
        return inner(environ, start_response)

    lms.app = record_assertions
    platform = LaunchPlatform(client_id=CLIENT_ID).start().connect(TOOL_URL)
    try:
        platform.register_in(app)
        with db.transaction() as session:
            session.scalar(select(Platform)).auth_token_url = lms.token_url
            version = import_framework(session, load(seed_path), "ler").version
            version_id = version.id
        ags = {
            c.AGS_ENDPOINT: {"scope": [SCOPE_LINEITEM, SCOPE_SCORE], "lineitems": lms.lineitems_url}
        }
        teacher_client = app.test_client()
        teacher = launch(
            teacher_client,
            platform,
            LaunchSpec(user_id="t", roles=[INSTRUCTOR], ags=False, extra_claims=ags),
        )
        learner = launch(
            client,
            platform,
            LaunchSpec(user_id="learner-1", roles=[LEARNER], ags=False, extra_claims=ags),
        )
        assert teacher.status == learner.status == 303
        with db.transaction() as session:
            link = session.scalar(select(ResourceLink))
            link.framework_version_id, link.level_keys = version_id, ["emerging"]
            learner_id = session.scalar(select(User.id).where(User.sub == "learner-1"))
            statements = [
                s.id
                for lv in session.get(FrameworkVersion, version_id).levels
                if lv.key == "emerging"
                for s in lv.statements
            ]
        # A forged launch and a replay: refusals are logged, and must not log the token.
        forged = sign_rs({"iss": platform.issuer, "aud": CLIENT_ID}, load_private(rsa_pem()), "kid")
        assert (
            client.post("/lti/launch", data={"id_token": forged, "state": "s"}).status_code >= 400
        )
        assert client.post("/lti/launch", data=learner.form).status_code == 401
        # A refusal on a launch page: its path holds the session token.
        assert client.get(f"/s/{learner.token}/grid").status_code == 403
        # The instructor signs the whole level: a credential, an AGS score in the outbox.
        cookie = f"{BROWSER_COOKIE}={browser_cookie(teacher_client)}"
        with app.test_request_context(f"/s/{teacher.token}/", headers={"Cookie": cookie}):
            csrf = generate_csrf()
            app.session_interface.save_session(app, flask_session, app.response_class())
        answer = teacher_client.post(
            f"/s/{teacher.token}/learners/{learner_id}/sign",
            data=MultiDict(
                [("statement", str(s)) for s in statements]
                # Completing the level issues a credential, which is confirmed first.
                + [("csrf_token", csrf), ("note", "seen on the ward"), ("confirmed", "1")]
            ),
        )
        assert answer.status_code == 303, answer.get_data(as_text=True)[:300]
        tokens = AccessTokenCache()
        stats = Worker(db, tool_store, tokens=tokens, timeout=(5.0, 5.0)).run_once()
        assert stats.sent >= 1
        with db.transaction() as session:
            assert (
                session.scalar(
                    select(OutboxMessage).where(OutboxMessage.kind == "ags_score")
                ).status
                == "sent"
            )
        assert lms.state.score_posts == 1 and seen_assertions
        access_tokens = [t.value for t in tokens._tokens.values()]
        assert access_tokens
    finally:
        platform.stop()
        lms.stop()

    secrets: dict[str, str] = {}
    for token in (teacher.form["id_token"], learner.form["id_token"], forged):
        for part in _token_parts(token):
            secrets[f"id_token {part[:12]}"] = part
    for token in access_tokens + seen_assertions:
        for part in _token_parts(token):
            secrets[f"bearer/assertion {part[:12]}"] = part
    for line in _pem_lines(platform.private_key):
        secrets["platform private key"] = line
    for path in Path(app.config["KEYS_DIR"]).rglob("*.pem"):
        for line in _pem_lines(path.read_bytes()):
            secrets[f"tool key {path.name}"] = line
    secrets["launch session (instructor)"] = teacher.token
    secrets["launch session (learner)"] = learner.token
    secrets["app secret"] = app.config["SECRET_KEY"]
    secrets["CSRF token"] = csrf
    secrets["browser cookie"] = browser_cookie(teacher_client)

    formatted, raw = capture.formatted(), capture.raw()
    assert len(formatted) >= 10, "the flow logged almost nothing: is the capture working?"
    leaks = [
        f"{name} in {where}: {line[:200]}"
        for name, secret in secrets.items()
        for where, lines in (("JSON log", formatted), ("raw record", raw))
        for line in lines
        if secret in line
    ]
    assert not leaks, "\n".join(leaks[:20])
