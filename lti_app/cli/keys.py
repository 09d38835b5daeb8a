"""`skillsign keys ...`"""

from __future__ import annotations

from datetime import timedelta

import click
from flask import current_app
from flask.cli import with_appcontext

from keys import KeyKind, KeyStore, KeyStoreError
from lti_app.cli.common import echo_json as _echo_json
from lti_app.cli.common import fail as _fail


@click.group("keys")
def keys_group() -> None:
    """Signing keys (RSA for LTI, Ed25519 for credentials)."""


def store() -> KeyStore:
    return KeyStore(current_app.config["KEYS_DIR"])


@keys_group.command("ensure")
@with_appcontext
def keys_ensure() -> None:
    """Create the missing keys (one of each kind)."""
    for kind in KeyKind:
        record = store().ensure(kind)
        click.echo(f"{kind.value}: {record.kid}")


@keys_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def keys_list(as_json: bool) -> None:
    """List keys with their status."""
    try:
        records = store().records()
    except KeyStoreError as exc:
        _fail(str(exc))
    if as_json:
        _echo_json([r.to_json() for r in records])
        return
    for r in records:
        until = f" until {r.publish_until:%Y-%m-%d %H:%M}" if r.publish_until else ""
        click.echo(
            f"{r.kind.value:8} {r.status.value:9}{until}  {r.kid}  created {r.created_at:%Y-%m-%d}"
        )


@keys_group.command("rotate")
@click.option(
    "--kind", type=click.Choice([k.value for k in KeyKind]), default="rsa", show_default=True
)
@click.option(
    "--grace-days",
    type=int,
    default=None,
    help="Days the old key stays published (default: 7 for rsa, until retired for ed25519).",
)
@with_appcontext
def keys_rotate(kind: str, grace_days: int | None) -> None:
    """Make a new signing key; keep publishing the old one."""
    key_kind = KeyKind(kind)
    if grace_days is None and key_kind is KeyKind.RSA:
        grace_days = 7
    grace = timedelta(days=grace_days) if grace_days is not None else None
    record = store().rotate(key_kind, grace)
    click.echo(f"new {kind} key {record.kid}")
