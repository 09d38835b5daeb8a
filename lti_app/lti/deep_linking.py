"""Deep Linking responses: one LtiResourceLink content item pinned to a framework choice.

pylti1p3 builds and signs the response JWT (``DeepLink``), with our RSA key
and kid from ``ToolRegistration``; its HTML form uses an inline script, which
our CSP forbids, so the auto-submitting form is our template instead.
"""

from __future__ import annotations

import secrets
from typing import Any

from pylti1p3.deep_link_resource import DeepLinkResource
from pylti1p3.lineitem import LineItem

from lti_app.lti.launch import ToolMessageLaunch
from lti_app.services.launches import (
    CUSTOM_FRAMEWORK,
    CUSTOM_LEVEL,
    CUSTOM_VERSION,
    LinkChoice,
)

LINEITEM_TAG = "skillsign"


def link_title(choice: LinkChoice) -> str:
    version = choice.version
    if not choice.level_keys:
        return f"{version.title} ({version.version})"
    labels = [lv.label for lv in version.levels if lv.key in choice.level_keys]
    return f"{version.title}: {', '.join(labels)}"


def content_item(base_url: str, choice: LinkChoice) -> DeepLinkResource:
    """The link the platform creates: launches here, configured by custom parameters."""
    version = choice.version
    custom = {CUSTOM_FRAMEWORK: version.identifier, CUSTOM_VERSION: version.version}
    if choice.level_keys:
        custom[CUSTOM_LEVEL] = ",".join(choice.level_keys)
    title = link_title(choice)[:255]
    line_item = (
        LineItem()
        .set_score_maximum(choice.statement_count)
        .set_label(title)
        .set_resource_id(f"{version.id}:{','.join(choice.level_keys) or '*'}")
        .set_tag(LINEITEM_TAG)
    )
    return (
        DeepLinkResource()
        .set_url(f"{base_url}/lti/launch")
        .set_title(title)
        .set_custom_params(custom)
        .set_lineitem(line_item)
    )


def response(launch: ToolMessageLaunch, items: list[DeepLinkResource]) -> tuple[str, str]:
    """(deep_link_return_url, signed JWT) for the platform."""
    deep_link = launch.get_deep_link()
    message: dict[str, Any] = deep_link.get_message_jwt(items)
    data_claim = "https://purl.imsglobal.org/spec/lti-dl/claim/data"
    if message.get(data_claim) is None:
        message.pop(data_claim, None)  # "data" is echoed only when the platform sent one
    # A jti lets the platform act on this response once (pylti1p3 sets none).
    message["jti"] = secrets.token_urlsafe(24)
    token = deep_link.encode_jwt(message)
    return launch.claims["https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"][
        "deep_link_return_url"
    ], token
