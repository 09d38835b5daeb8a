"""`skillsign verify` exit codes and `skillsign credentials ...`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from issuance_helpers import issue_backdated, level_of

from credentials import baking
from lti_app.db.models import Credential, FrameworkLevel
from lti_app.services import awarding, credential_store


@pytest.fixture
def wallet_credential(db, course, sign_level) -> Credential:
    learner = course.learners[1]
    with db.transaction() as session:
        awarding.set_wallet_did(session, learner.id, "did:example:cli-wallet")
    (credential,) = sign_level(learner).credentials
    return credential


def _exports(db, credential: Credential) -> dict[str, bytes]:
    with db.transaction() as session:
        row = session.get(Credential, credential.id)
        return {
            fmt: credential_store.export(session, row, fmt).body
            for fmt in credential_store.EXPORT_FORMATS
        }


def _write(tmp_path: Path, name: str, body: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(body)
    return str(path)


def _verify(runner, path: str, *extra: str):
    return runner.invoke(args=["verify", path, "--offline", *extra])


def _tamper_json(document: dict) -> dict:
    changed = json.loads(json.dumps(document))
    changed["credentialSubject"]["achievement"]["name"] += " (with honours)"
    return changed


def _tamper_jwt(token: str) -> str:
    head, body, signature = token.split(".")
    middle = len(signature) // 2
    flipped = "A" if signature[middle] != "A" else "B"
    return ".".join([head, body, signature[:middle] + flipped + signature[middle + 1 :]])


def test_verify_exit_codes_valid(runner, db, wallet_credential, tmp_path) -> None:
    for fmt, body in _exports(db, wallet_credential).items():
        result = _verify(runner, _write(tmp_path, f"c.{fmt}", body))
        assert result.exit_code == 0, (fmt, result.output)
        assert result.output.startswith("VALID")


def test_verify_exit_codes_tampered(runner, db, wallet_credential, tmp_path) -> None:
    exports = _exports(db, wallet_credential)
    tampered_json = json.dumps(_tamper_json(wallet_credential.document))
    level_png = baking.extract_png  # the baked image holds exactly the JSON we tamper with
    assert json.loads(level_png(exports["png"])) == wallet_credential.document
    with db.transaction() as session:
        level = session.get(FrameworkLevel, wallet_credential.level_id)
        png = baking.bake_png(credential_store.badge(level, "png"), tampered_json)
        svg = baking.bake_svg(credential_store.badge(level, "svg"), tampered_json)
    files = {
        "json": tampered_json.encode(),
        "jwt": _tamper_jwt(exports["jwt"].decode()).encode(),
        "png": png,
        "svg": svg,
    }
    for fmt, body in files.items():
        result = _verify(runner, _write(tmp_path, f"t.{fmt}", body))
        assert result.exit_code == 1, (fmt, result.output)
        assert result.output.startswith("INVALID")


def test_verify_exit_codes_revoked(runner, db, wallet_credential, tmp_path) -> None:
    exports = _exports(db, wallet_credential)
    done = runner.invoke(
        args=["credentials", "revoke", str(wallet_credential.id), "--reason", "Typo in the record"]
    )
    assert done.exit_code == 0, done.output
    for fmt, body in exports.items():
        result = _verify(runner, _write(tmp_path, f"r.{fmt}", body), "--json")
        assert result.exit_code == 1, (fmt, result.output)
        assert json.loads(result.output)["status"] == "revoked"
    again = runner.invoke(
        args=["credentials", "revoke", str(wallet_credential.id), "--reason", "x"]
    )
    assert again.exit_code == 1
    assert "already revoked" in again.output


def test_verify_exit_codes_expired(runner, db, course, sign_level, tmp_path) -> None:
    learner = course.learners[2]
    sign_level(learner, positions=list(range(1, 10)))
    credential = issue_backdated(db, learner.id, level_of(course).id, valid_days=7, age_days=30)
    result = _verify(runner, _write(tmp_path, "e.json", json.dumps(credential.document).encode()))
    assert result.exit_code == 1, result.output
    assert result.output.startswith("EXPIRED")


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not a credential",
        b"\x89PNG\r\n\x1a\nbroken",
        b"<svg xmlns='http://www.w3.org/2000/svg'/>",
        b"{broken json",
    ],
)
def test_verify_exit_code_unreadable(runner, tmp_path, body) -> None:
    result = _verify(runner, _write(tmp_path, "u.bin", body), "--json")
    assert result.exit_code == 2, result.output
    assert json.loads(result.output)["status"] == "unreadable"


def test_verify_missing_file_is_unreadable(runner, tmp_path) -> None:
    result = _verify(runner, str(tmp_path / "nowhere.json"))
    assert result.exit_code == 2
    assert "cannot read" in result.output


def test_credentials_list_show_export(runner, db, wallet_credential, issued, tmp_path) -> None:
    listed = runner.invoke(args=["credentials", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.output)
    assert {r["id"] for r in rows} == {str(wallet_credential.id), str(issued.id)}
    assert {r["state"] for r in rows} == {"valid"}
    text = runner.invoke(args=["credentials", "list"]).output
    assert str(issued.id) in text and "Emerging" in text
    # Who holds each credential: the learner's name and email, not only a user id.
    by_id = {r["id"]: r for r in rows}
    holder = by_id[str(wallet_credential.id)]
    assert holder["learner_email"] and holder["learner_email"].endswith("@example.edu")
    assert holder["learner_name"]
    assert f"{holder['learner_name']} <{holder['learner_email']}>" in text

    shown = runner.invoke(
        args=["credentials", "show", f"http://localhost/credentials/{issued.id}", "--json"]
    )
    assert shown.exit_code == 0, shown.output
    info = json.loads(shown.output)
    assert info["document"] == issued.document
    assert info["has_jwt"] is False
    assert info["learner_email"] == by_id[str(issued.id)]["learner_email"]
    plain = runner.invoke(args=["credentials", "show", str(issued.id)]).output
    assert f"learner email: {info['learner_email']}" in plain
    assert f"learner name: {info['learner_name']}" in plain
    assert runner.invoke(args=["credentials", "show", "not-a-uuid"]).exit_code == 1

    for fmt in ("json", "png", "svg"):
        out = tmp_path / f"export.{fmt}"
        done = runner.invoke(
            args=["credentials", "export", str(issued.id), "--format", fmt, "-o", str(out)]
        )
        assert done.exit_code == 0, done.output
        assert _verify(runner, str(out)).exit_code == 0
    no_jwt = runner.invoke(args=["credentials", "export", str(issued.id), "--format", "jwt"])
    assert no_jwt.exit_code == 1
    assert "no VC-JWT" in no_jwt.output
    jwt = runner.invoke(
        args=["credentials", "export", str(wallet_credential.id), "--format", "jwt"]
    )
    assert jwt.exit_code == 0
    assert jwt.output.strip() == wallet_credential.jwt
