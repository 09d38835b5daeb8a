"""Registering the demo LMS with the tool, as an admin would register a real LMS."""

from __future__ import annotations

from sqlalchemy.orm import Session

from lti_app.db.models import Platform
from lti_app.demo.platform import CLIENT_ID, DEPLOYMENT_ID, MOUNT_PATH
from lti_app.services import registry


def register_with_tool(session: Session, base_url: str) -> Platform:
    """The demo LMS's Platform and approved Deployment rows in the tool's registry.

    Idempotent: running ``skillsign demo`` again updates the same rows.
    """
    issuer = base_url.rstrip("/") + MOUNT_PATH
    return registry.add_platform(
        session,
        issuer=issuer,
        client_id=CLIENT_ID,
        auth_login_url=f"{issuer}/auth",
        auth_token_url=f"{issuer}/token",
        jwks_url=f"{issuer}/.well-known/jwks.json",
        name="skillsign demo LMS",
        product="generic",
        deployment_ids=[DEPLOYMENT_ID],
        update=True,
    )
