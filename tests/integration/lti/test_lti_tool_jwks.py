"""The tool's JWKS: the active RSA key, plus the previous one during a rotation's grace period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from keys import KeyKind, KeyStore
from lti_app.lti.tool_keys import tool_keys


def kids(client) -> list[str]:
    answer = client.get("/.well-known/jwks.json")
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"].startswith("public")
    keys = answer.get_json()["keys"]
    assert all(k["kty"] == "RSA" and k["alg"] == "RS256" and k["use"] == "sig" for k in keys)
    assert all("d" not in k and "p" not in k for k in keys)  # public parts only
    return [k["kid"] for k in keys]


def test_jwks_publishes_the_active_key(app, client):
    published = kids(client)
    store = KeyStore(app.config["KEYS_DIR"])
    assert published == [store.active(KeyKind.RSA).kid]


def test_rotation_keeps_the_old_key_for_the_grace_period(app, client, runner):
    (old,) = kids(client)
    out = runner.invoke(args=["keys", "rotate", "--kind", "rsa", "--grace-days", "7"])
    assert out.exit_code == 0, out.output
    published = kids(client)
    new = KeyStore(app.config["KEYS_DIR"]).active(KeyKind.RSA).kid
    assert new != old and set(published) == {old, new}
    with app.app_context():
        assert tool_keys().active_kid() == new  # new messages are signed with the new key
    # After the grace period only the new key is published.
    later = datetime.now(UTC) + timedelta(days=8)
    assert [
        k["kid"] for k in KeyStore(app.config["KEYS_DIR"]).public_jwks(KeyKind.RSA, later)["keys"]
    ] == [new]


def test_rotation_without_grace_drops_the_old_key_at_once(app, client):
    (old,) = kids(client)
    KeyStore(app.config["KEYS_DIR"]).rotate(KeyKind.RSA, timedelta(0))
    assert old not in kids(client)
