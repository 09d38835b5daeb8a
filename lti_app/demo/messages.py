"""The LTI 1.3 messages the demo LMS sends: resource link launches and deep linking requests."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lti_app.demo.models import DemoCourse, DemoEnrollment, DemoLineItem, DemoLink, DemoUser
from lti_app.demo.platform import DemoSettings
from lti_app.demo.seed import institution_roles

LTI = "https://purl.imsglobal.org/spec/lti/claim/"
AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS_CLAIM = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
DL_SETTINGS = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
COURSE_OFFERING = "http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"

SCOPE_LINEITEM = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem"
SCOPE_LINEITEM_READONLY = "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem.readonly"
SCOPE_RESULT_READONLY = "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly"
SCOPE_SCORE = "https://purl.imsglobal.org/spec/lti-ags/scope/score"
SCOPE_NRPS = "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly"
AGS_SCOPES = (SCOPE_LINEITEM, SCOPE_LINEITEM_READONLY, SCOPE_RESULT_READONLY, SCOPE_SCORE)
ALL_SCOPES = (*AGS_SCOPES, SCOPE_NRPS)


def _person(user: DemoUser) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "sub": user.id,
        "name": user.name,
        "given_name": user.given_name,
        "family_name": user.family_name,
        "locale": user.locale,
    }
    if user.email:
        claims["email"] = user.email
    return claims


def _common(
    settings: DemoSettings,
    course: DemoCourse,
    user: DemoUser,
    enrollment: DemoEnrollment,
    nonce: str,
    target_link_uri: str,
) -> dict[str, Any]:
    return {
        "iss": settings.issuer,
        "aud": settings.client_id,
        "azp": settings.client_id,
        "nonce": nonce,
        **_person(user),
        LTI + "version": "1.3.0",
        LTI + "deployment_id": settings.deployment_id,
        LTI + "target_link_uri": target_link_uri,
        LTI + "roles": [*enrollment.roles, *institution_roles(user.id, enrollment.role)],
        LTI + "context": {
            "id": course.id,
            "label": course.label,
            "title": course.title,
            "type": [COURSE_OFFERING],
        },
        LTI + "tool_platform": {
            "guid": settings.issuer,
            "name": "skillsign demo LMS",
            "product_family_code": "skillsign-demo-lms",
            "version": "1.0",
        },
        LTI + "launch_presentation": {
            "document_target": "window",
            "return_url": settings.issuer + "/",
            "locale": user.locale,
        },
        NRPS_CLAIM: {
            "context_memberships_url": settings.memberships_url(course.id),
            "service_versions": ["2.0"],
        },
    }


def resource_link_claims(
    session: Session,
    settings: DemoSettings,
    link: DemoLink,
    user: DemoUser,
    enrollment: DemoEnrollment,
    nonce: str,
) -> dict[str, Any]:
    course = session.get(DemoCourse, link.course_id)
    assert course is not None
    claims = _common(settings, course, user, enrollment, nonce, link.url)
    claims[LTI + "message_type"] = "LtiResourceLinkRequest"
    claims[LTI + "resource_link"] = {"id": link.id, "title": link.title}
    if link.custom:
        claims[LTI + "custom"] = {k: str(v) for k, v in link.custom.items()}
    ags: dict[str, Any] = {
        "scope": list(AGS_SCOPES),
        "lineitems": settings.lineitems_url(course.id),
    }
    lineitem_id = session.scalar(
        select(DemoLineItem.id)
        .where(DemoLineItem.course_id == course.id, DemoLineItem.resource_link_id == link.id)
        .order_by(DemoLineItem.id)
        .limit(1)
    )
    if lineitem_id is not None:
        ags["lineitem"] = settings.lineitem_url(course.id, lineitem_id)
    claims[AGS_CLAIM] = ags
    return claims


def deep_linking_claims(
    settings: DemoSettings,
    course: DemoCourse,
    user: DemoUser,
    enrollment: DemoEnrollment,
    nonce: str,
    data: str,
) -> dict[str, Any]:
    claims = _common(settings, course, user, enrollment, nonce, settings.tool_launch_url)
    claims[LTI + "message_type"] = "LtiDeepLinkingRequest"
    claims[DL_SETTINGS] = {
        "deep_link_return_url": settings.deep_link_return_url,
        "accept_types": ["ltiResourceLink"],
        "accept_presentation_document_targets": ["iframe", "window"],
        "accept_multiple": False,
        "auto_create": True,
        "title": "skillsign checklist",
        "text": "Choose a framework and the levels to check",
        "data": data,
    }
    claims[AGS_CLAIM] = {
        "scope": list(AGS_SCOPES),
        "lineitems": settings.lineitems_url(course.id),
    }
    return claims
