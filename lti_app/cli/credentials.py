"""`skillsign verify FILE` and `skillsign credentials ...`"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy.orm import Session

from credentials.verify import VerificationResult
from lti_app.cli.common import echo_json, fail
from lti_app.db.models import Credential, FrameworkLevel, User
from lti_app.request_db import database
from lti_app.services import awarding, credential_store, verification, wallet
from lti_app.services import issuer as issuer_service
from lti_app.services.errors import AppError

# `skillsign verify` exit codes.
EXIT_VALID, EXIT_INVALID, EXIT_UNREADABLE = 0, 1, 2
MAX_FILE_BYTES = 32 * 1024 * 1024


def _print_result(result: VerificationResult) -> None:
    verdict = {
        "valid": "VALID",
        "revoked": "REVOKED",
        "expired": "EXPIRED",
        "not_yet_valid": "NOT YET VALID",
        "status_unknown": "SIGNATURE VALID, REVOCATION STATUS UNKNOWN",
        "invalid": "INVALID",
        "unreadable": "UNREADABLE",
    }[result.status]
    click.echo(f"{verdict}  ({result.format or 'unknown format'})")
    if result.issuer:
        click.echo(f"issuer: {result.issuer}")
    for check in result.checks:
        mark = {True: "ok  ", False: "FAIL", None: "--  "}[check.ok]
        click.echo(f"  {mark} {check.name:<12} {check.reason}")


@click.command("verify")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, allow_dash=True))
@click.option("--json", "as_json", is_flag=True, help="Print the structured result as JSON.")
@click.option(
    "--offline",
    is_flag=True,
    help="Never fetch other issuers' DID documents or status lists over the network.",
)
@with_appcontext
def verify_command(file: Path, as_json: bool, offline: bool) -> None:
    """Verify a credential: JSON, VC-JWT, or a baked PNG or SVG (FILE, or - for stdin).

    Exit 0 when valid; 1 when invalid, revoked, expired, not yet valid, or when its revocation
    status could not be checked; 2 when unreadable.
    """
    try:
        if str(file) == "-":
            data = sys.stdin.buffer.read(MAX_FILE_BYTES + 1)
        else:
            with file.open("rb") as handle:
                data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        click.echo(f"{file}: cannot read: {error.strerror or error}", err=True)
        sys.exit(EXIT_UNREADABLE)
    if len(data) > MAX_FILE_BYTES:
        click.echo(f"{file}: larger than {MAX_FILE_BYTES} bytes", err=True)
        sys.exit(EXIT_UNREADABLE)
    remote = None if offline else verification.RemoteFetcher()
    with database().transaction() as session:
        result = verification.verify(session, data, remote=remote)
    if as_json:
        echo_json(result.to_dict())
    else:
        _print_result(result)
    if result.status == "unreadable":
        sys.exit(EXIT_UNREADABLE)
    sys.exit(EXIT_VALID if result.valid else EXIT_INVALID)


@click.group("credentials")
def credentials_group() -> None:
    """Issued credentials: list, show, export, revoke, offer to a wallet."""


def _learner(session: Session, learner_id: int) -> dict[str, str | None]:
    """The learner's name and email as the LMS last sent them."""
    user = session.get(User, learner_id)
    return {
        "learner_name": user.name if user else None,
        "learner_email": user.email if user else None,
    }


def _label(level: FrameworkLevel | None) -> str:
    if level is None:
        return "?"
    return f"{level.framework_version.title} — {level.label}"


@credentials_group.command("list")
@click.option("--learner", "learner_id", type=int, help="Only this learner's (user id).")
@click.option("--limit", type=int, default=None, help="At most this many, newest first.")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def credentials_list(learner_id: int | None, limit: int | None, as_json: bool) -> None:
    """List issued credentials, newest first."""
    with database().transaction() as session:
        rows = credential_store.list_credentials(session, learner_id=learner_id, limit=limit)
        items = []
        for row in rows:
            level = session.get(FrameworkLevel, row.level_id)
            items.append(
                {
                    **awarding.summary(row),
                    **_learner(session, row.learner_id),
                    "achievement": _label(level),
                }
            )
    if as_json:
        echo_json(items)
        return
    if not items:
        click.echo("no credentials issued")
    for item in items:
        who = item["learner_name"] or f"learner {item['learner_id']}"
        email = f" <{item['learner_email']}>" if item["learner_email"] else ""
        click.echo(
            f"{item['id']}  {item['state']:<8} {item['issued_at'][:10]}  "
            f"{who}{email}  {item['achievement']}"
            + (f"  (wallet copy of {item['copy_of']})" if item["copy_of"] else "")
        )


def _load(session: Session, ref: str) -> Credential:
    try:
        return credential_store.find(session, ref)
    except AppError as error:
        fail(error.detail)


@credentials_group.command("show")
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True, help="Print the record and the signed document.")
@with_appcontext
def credentials_show(ref: str, as_json: bool) -> None:
    """Show one credential (REF: its id or URL)."""
    with database().transaction() as session:
        row = _load(session, ref)
        level = session.get(FrameworkLevel, row.level_id)
        info = {
            **awarding.summary(row),
            **_learner(session, row.learner_id),
            "achievement": _label(level),
        }
        document = row.document
        url = issuer_service.context(session).credential_url(row.id)
    if as_json:
        echo_json({**info, "url": url, "document": document})
        return
    click.echo(f"{info['achievement']}\n{url}")
    keys = ("state", "learner_name", "learner_email", "learner_id", "issued_at", "valid_until")
    for key in (*keys, "revoked_at"):
        if info[key] is not None:
            click.echo(f"  {key.replace('_', ' ')}: {info[key]}")
    if info["revocation_reason"]:
        click.echo(f"  reason: {info['revocation_reason']}")
    click.echo(f"  issuer: {document['issuer']['id']}\n  key: {info['signing_kid']}")
    click.echo(f"  VC-JWT: {'yes' if info['has_jwt'] else 'no (no wallet DID)'}")
    if info["copy_of"]:
        click.echo(f"  wallet copy of {info['copy_of']}, bound to {info['holder_did']}")


@credentials_group.command("export")
@click.argument("ref")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(list(credential_store.EXPORT_FORMATS)),
    required=True,
    help="json: the signed OB 3.0 document; jwt: the VC-JWT; png/svg: the badge, baked.",
)
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False))
@with_appcontext
def credentials_export(ref: str, fmt: str, output: Path | None) -> None:
    """Write a credential as JSON, VC-JWT, or a baked PNG or SVG (to stdout without -o)."""
    with database().transaction() as session:
        row = _load(session, ref)
        try:
            download = credential_store.export(session, row, fmt)
        except AppError as error:
            fail(error.detail)
    if output is not None:
        output.write_bytes(download.body)
        click.echo(f"wrote {output} ({len(download.body)} bytes)")
        return
    if fmt == "png" and sys.stdout.isatty():
        fail("a PNG is binary: write it to a file with -o FILE")
    sys.stdout.buffer.write(download.body)
    if fmt in ("json", "jwt"):
        sys.stdout.buffer.write(b"\n")
    sys.stdout.flush()


@credentials_group.command("revoke")
@click.argument("ref")
@click.option("--reason", required=True, help="Why; shown on the credential's public page.")
@with_appcontext
def credentials_revoke(ref: str, reason: str) -> None:
    """Revoke a credential: verifiers see it revoked from now on."""
    try:
        with database().transaction() as session:
            row = _load(session, ref)
            awarding.revoke(session, row, reason=reason, actor_id=None, actor_label="cli")
            credential_id = row.id
    except AppError as error:
        fail(error.detail)
    click.echo(f"revoked {credential_id}")


@credentials_group.command("offer")
@click.argument("ref")
@click.option("--tx-code", "tx_code", is_flag=True, help="Protect the offer with a 6-digit code.")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def credentials_offer(ref: str, tx_code: bool, as_json: bool) -> None:
    """Print a fresh OpenID4VCI offer link for a credential (REF: its id or URL): one wallet
    claims a copy bound to its DID, once, within 10 minutes."""
    try:
        with database().transaction() as session:
            row = _load(session, ref)
            offer = wallet.create_offer(
                session,
                issuer_service.context(session),
                credential_id=row.id,
                learner_id=None,
                tx_code=tx_code,
            )
    except AppError as error:
        fail(error.detail)
    if as_json:
        echo_json(
            {
                "credential_id": str(offer.credential_id),
                "offer": offer.link,
                "credential_offer_uri": offer.offer_uri,
                "tx_code": offer.tx_code,
                "expires_at": offer.expires_at.isoformat(),
            }
        )
        return
    click.echo(offer.link)
    if offer.tx_code:
        click.echo(f"transaction code: {offer.tx_code}")
    click.echo(f"valid until {offer.expires_at.isoformat()}, once")
