"""`skillsign platforms ...`: the LTI platform registry."""

from __future__ import annotations

from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext

from lti_app.cli.common import echo_json, fail
from lti_app.db.models import Platform
from lti_app.lti.registration import make_invite
from lti_app.request_db import database
from lti_app.services import audit, registry


@click.group("platforms")
def platforms_group() -> None:
    """LTI platforms (LMSs) this tool accepts launches from."""


def _describe(platform: Platform) -> dict[str, Any]:
    return {
        "id": platform.id,
        "name": platform.name,
        "product": platform.product,
        "issuer": platform.issuer,
        "client_id": platform.client_id,
        "auth_login_url": platform.auth_login_url,
        "auth_token_url": platform.auth_token_url,
        "jwks_url": platform.jwks_url,
        "auth_audience": platform.auth_audience,
        "auto_approve_deployments": bool((platform.details or {}).get("auto_approve_deployments")),
        "deployments": [
            {"deployment_id": d.deployment_id, "status": d.status} for d in platform.deployments
        ],
    }


def _platform(session: Any, ref: str) -> Platform:
    platform = registry.get_platform(session, ref)
    if platform is None:
        fail(f"no platform {ref!r}: give its id from `skillsign platforms list`")
    assert platform is not None
    return platform


@platforms_group.command("add")
@click.option("--preset", type=click.Choice(["canvas", "moodle"]), help="Fill in known endpoints.")
@click.option("--site-url", help="Moodle wwwroot, or a self-hosted Canvas URL (with --preset).")
@click.option("--issuer", help="The platform's issuer (iss); required without --preset.")
@click.option("--client-id", required=True, help="The client id the platform gave this tool.")
@click.option("--auth-login-url", help="OIDC authorization endpoint.")
@click.option("--auth-token-url", help="OAuth2 token endpoint (services).")
@click.option("--jwks-url", help="The platform's public key set.")
@click.option("--auth-audience", help="Token audience, when it is not the token URL.")
@click.option(
    "--deployment-id", "deployment_ids", multiple=True, help="Approved deployment (repeatable)."
)
@click.option("--name", default="", help="A name for people.")
@click.option(
    "--auto-approve-deployments",
    is_flag=True,
    help="Approve this platform's new deployments at their first launch (Canvas makes one per install).",
)
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def platforms_add(
    preset: str | None,
    site_url: str | None,
    issuer: str | None,
    client_id: str,
    auth_login_url: str | None,
    auth_token_url: str | None,
    jwks_url: str | None,
    auth_audience: str | None,
    deployment_ids: tuple[str, ...],
    name: str,
    auto_approve_deployments: bool,
    as_json: bool,
) -> None:
    """Register a platform (manual registration)."""
    endpoints = _endpoints(preset, site_url, issuer, auth_login_url, auth_token_url, jwks_url)
    try:
        with database().transaction() as session:
            platform = registry.add_platform(
                session,
                issuer=endpoints.issuer,
                client_id=client_id,
                auth_login_url=endpoints.auth_login_url,
                auth_token_url=endpoints.auth_token_url,
                jwks_url=endpoints.jwks_url,
                auth_audience=auth_audience,
                name=name,
                product=endpoints.product,
                deployment_ids=deployment_ids,
                details={"auto_approve_deployments": True} if auto_approve_deployments else None,
            )
            info = _describe(platform)
    except registry.RegistryError as exc:
        fail(str(exc))
    if as_json:
        echo_json(info)
        return
    click.echo(f"platform {info['id']} added: {info['issuer']} (client id {info['client_id']})")
    base = current_app.config["BASE_URL"]
    click.echo(f"  tool login URL:   {base}/lti/login")
    click.echo(f"  tool launch URL:  {base}/lti/launch")
    click.echo(f"  tool JWKS URL:    {base}/.well-known/jwks.json")


def _endpoints(
    preset: str | None,
    site_url: str | None,
    issuer: str | None,
    auth_login_url: str | None,
    auth_token_url: str | None,
    jwks_url: str | None,
) -> registry.Endpoints:
    """The endpoints given, each missing one filled from the preset; all four or a failure."""
    product = "generic"
    if preset:
        try:
            known = registry.preset_endpoints(preset, site_url)
        except registry.RegistryError as exc:
            fail(str(exc))
        issuer = issuer or known.issuer
        auth_login_url = auth_login_url or known.auth_login_url
        auth_token_url = auth_token_url or known.auth_token_url
        jwks_url = jwks_url or known.jwks_url
        product = known.product
    elif site_url:
        fail("--site-url needs --preset canvas or --preset moodle")
    missing = [
        flag
        for flag, value in (
            ("--issuer", issuer),
            ("--auth-login-url", auth_login_url),
            ("--auth-token-url", auth_token_url),
            ("--jwks-url", jwks_url),
        )
        if not value
    ]
    if missing:
        fail(f"missing {', '.join(missing)} (or use --preset canvas|moodle)")
    return registry.Endpoints(
        issuer=issuer or "",
        auth_login_url=auth_login_url or "",
        auth_token_url=auth_token_url or "",
        jwks_url=jwks_url or "",
        product=product,
    )


@platforms_group.command("list")
@click.option("--json", "as_json", is_flag=True)
@with_appcontext
def platforms_list(as_json: bool) -> None:
    """List registered platforms and their deployments."""
    with database().transaction() as session:
        rows = [_describe(p) for p in registry.list_platforms(session)]
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("no platforms registered")
    for row in rows:
        click.echo(f"{row['id']}  {row['name']}  [{row['product']}]")
        click.echo(f"    issuer {row['issuer']}  client id {row['client_id']}")
        for dep in row["deployments"]:
            click.echo(f"    deployment {dep['deployment_id']}: {dep['status']}")


@platforms_group.command("update")
@click.argument("ref")
@click.option("--jwks-url", help="The platform's public key set.")
@click.option("--auth-login-url", help="OIDC authorization endpoint.")
@click.option("--auth-token-url", help="OAuth2 token endpoint (services).")
@click.option("--auth-audience", help="Token audience; an empty value clears it.")
@click.option("--name", help="A name for people.")
@with_appcontext
def platforms_update(
    ref: str,
    jwks_url: str | None,
    auth_login_url: str | None,
    auth_token_url: str | None,
    auth_audience: str | None,
    name: str | None,
) -> None:
    """Change the URLs or name of platform REF (by id); audited with old and new values.

    Dynamic registration never changes a registered platform: this is the way to.
    """
    changes: dict[str, str | None] = {
        field: value
        for field, value in (
            ("jwks_url", jwks_url),
            ("auth_login_url", auth_login_url),
            ("auth_token_url", auth_token_url),
            ("auth_audience", auth_audience),
            ("name", name),
        )
        if value is not None
    }
    if not changes:
        fail(
            "nothing to change: give --jwks-url, --auth-login-url, --auth-token-url, "
            "--auth-audience or --name"
        )
    with database().transaction() as session:
        platform = _platform(session, ref)
        try:
            changed = registry.update_platform(session, platform, changes)
        except registry.RegistryError as exc:
            fail(str(exc))
        if changed:
            # Who changed a platform's keys URL is what an investigation asks first.
            audit.record(
                session,
                "platform.update",
                actor_label="cli",
                object_type="platform",
                object_id=platform.id,
                details={
                    "issuer": platform.issuer,
                    "client_id": platform.client_id,
                    "changes": changed,
                },
            )
        label = f"{platform.id} ({platform.issuer}, client id {platform.client_id})"
    if not changed:
        click.echo(f"platform {label}: nothing changed")
        return
    click.echo(f"platform {label} updated")
    for field, values in changed.items():
        click.echo(f"  {field}: {values['old']} -> {values['new']}")


@platforms_group.command("remove")
@click.argument("ref")
@click.option("--force", is_flag=True, help="Also delete the courses launched from it.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_appcontext
def platforms_remove(ref: str, force: bool, yes: bool) -> None:
    """Remove a platform (by id)."""
    with database().transaction() as session:
        platform = _platform(session, ref)
        label = f"{platform.id} ({platform.issuer}, client id {platform.client_id})"
        if not yes and not click.confirm(f"Remove platform {label}?", default=False):
            fail("nothing removed")
        try:
            courses = registry.remove_platform(session, platform, force=force)
        except registry.RegistryError as exc:
            fail(str(exc))
    suffix = f" and {courses} course(s)" if courses else ""
    click.echo(f"platform {label} removed{suffix}")


@platforms_group.command("approve-deployment")
@click.argument("ref")
@click.argument("deployment_id")
@with_appcontext
def platforms_approve_deployment(ref: str, deployment_id: str) -> None:
    """Approve DEPLOYMENT_ID of platform REF (pending ones are listed by `platforms list`)."""
    with database().transaction() as session:
        platform = _platform(session, ref)
        existing = registry.find_deployment(session, platform.id, deployment_id)
        try:
            registry.approve_deployment(session, platform, deployment_id)
        except registry.RegistryError as exc:
            fail(str(exc))
    verb = "approved" if existing is not None else "added and approved"
    click.echo(f"deployment {deployment_id} of platform {platform.id} {verb}")


@platforms_group.command("invite")
@click.option("--hours", default=24, show_default=True, help="How long the invitation is valid.")
@with_appcontext
def platforms_invite(hours: int) -> None:
    """Print a one-time dynamic registration URL whose platform is approved at once."""
    if hours < 1 or hours > 24 * 30:
        fail("--hours: expected 1 to 720")
    with database().transaction() as session:
        code = make_invite(session, hours)
    click.echo(f"{current_app.config['BASE_URL']}/lti/register?invite={code}")
