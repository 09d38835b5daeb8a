"""The demo course: one instructor, one TA, several learners, and a ready activity.

Names carry non-ASCII letters on purpose (they travel through JWTs, the
roster and the gradebook). One learner has no email, like Canvas's Test
Student; one is faculty elsewhere in the institution (an institution role
that must grant nothing in this course).
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from frameworks import FrameworkError, bundled_paths, load
from lti_app.db.models import IssuerProfile
from lti_app.demo.models import DemoCourse, DemoEnrollment, DemoLineItem, DemoLink, DemoUser
from lti_app.demo.platform import DemoSettings

log = logging.getLogger("skillsign.demo_lms")

LIS = "http://purl.imsglobal.org/vocab/lis/v2"
ROLE_INSTRUCTOR = f"{LIS}/membership#Instructor"
ROLE_TA = f"{LIS}/membership/Instructor#TeachingAssistant"
ROLE_LEARNER = f"{LIS}/membership#Learner"
INSTITUTION_FACULTY = f"{LIS}/institution/person#Faculty"
INSTITUTION_INSTRUCTOR = f"{LIS}/institution/person#Instructor"
INSTITUTION_STUDENT = f"{LIS}/institution/person#Student"

COURSE_ID = "demo-course-1"
PRESET_LINK_ID = "demo-link-checklist"

# (sub, given name, family name, email, locale, role)
PEOPLE: tuple[tuple[str, str, str, str | None, str, str], ...] = (
    ("demo-instructor", "Ana María", "Núñez", "ana.nunez@demo-lms.example", "es", "instructor"),
    ("demo-ta", "Søren", "Kjærgaard", "soren.kjaergaard@demo-lms.example", "en", "ta"),
    ("demo-learner-1", "Zoë", "Ødegård", "zoe.odegard@demo-lms.example", "en", "learner"),
    ("demo-learner-2", "José Ángel", "Pérez", "jose.perez@demo-lms.example", "es", "learner"),
    ("demo-learner-3", "Thị Hương", "Nguyễn", "huong.nguyen@demo-lms.example", "en", "learner"),
    ("demo-learner-4", "Łukasz", "Żółkiewski", "lukasz.z@demo-lms.example", "en", "learner"),
    ("demo-learner-5", "Test", "Student", None, "en", "learner"),
)
# A learner who teaches elsewhere in the institution: institution roles grant nothing here.
FACULTY_LEARNER = "demo-learner-4"

ROLES = {
    "instructor": [ROLE_INSTRUCTOR],
    "ta": [ROLE_TA],
    "learner": [ROLE_LEARNER],
}


def institution_roles(user_id: str, role: str) -> list[str]:
    """Roles the platform adds in launches (never in the roster, which is per course)."""
    if role in ("instructor", "ta"):
        return [INSTITUTION_FACULTY]
    if user_id == FACULTY_LEARNER:
        return [INSTITUTION_INSTRUCTOR, INSTITUTION_FACULTY]
    return [INSTITUTION_STUDENT]


def _bundled_framework() -> dict[str, Any] | None:
    """Custom parameters that pin the preset activity to the bundled framework's first level."""
    for path in bundled_paths():
        try:
            fw = load(path)
        except FrameworkError:
            log.warning("bundled framework unreadable", extra={"path": str(path)})
            continue
        return {
            "title": f"{fw.title}: {fw.levels[0].label}",
            "custom": {
                "skillsign_framework": fw.identifier,
                "skillsign_version": fw.version,
                "skillsign_level": fw.levels[0].key,
            },
            "statements": len(fw.levels[0].statements),
        }
    return None


def seed(session: Session, settings: DemoSettings) -> None:
    """Create the demo course once; a later start finds it and changes nothing."""
    if session.get(DemoCourse, COURSE_ID) is not None:
        return
    session.add(
        DemoCourse(id=COURSE_ID, title="Psychiatric technician practicum (demo)", label="PT-101")
    )
    # No ORM relationships here, so parents are flushed before the rows that point at them.
    for position, (sub, given, family, email, locale, _role) in enumerate(PEOPLE):
        session.add(
            DemoUser(
                id=sub,
                name=f"{given} {family}",
                given_name=given,
                family_name=family,
                email=email,
                locale=locale,
                position=position,
            )
        )
    session.flush()
    for sub, *_rest, role in PEOPLE:
        session.add(
            DemoEnrollment(course_id=COURSE_ID, user_id=sub, role=role, roles=list(ROLES[role]))
        )
    preset = _bundled_framework()
    if preset is not None:
        session.add(
            DemoLink(
                id=PRESET_LINK_ID,
                course_id=COURSE_ID,
                title=preset["title"],
                url=settings.tool_launch_url,
                custom=preset["custom"],
            )
        )
        session.flush()
        # Like an LMS assignment made by the teacher: the line item exists before any launch.
        session.add(
            DemoLineItem(
                course_id=COURSE_ID,
                label=preset["title"],
                score_maximum=100.0,
                resource_link_id=PRESET_LINK_ID,
            )
        )
    session.flush()


def enrollments(session: Session, course_id: str) -> list[tuple[DemoUser, DemoEnrollment]]:
    rows = session.execute(
        select(DemoUser, DemoEnrollment)
        .join(DemoEnrollment, DemoEnrollment.user_id == DemoUser.id)
        .where(DemoEnrollment.course_id == course_id)
        .order_by(DemoUser.position)
    ).all()
    return [(user, enrollment) for user, enrollment in rows]


# The institution the demo's credentials name: never the demo server's address.
DEMO_INSTITUTION = {
    "name": "Riverside Demo College",
    "url": "https://riverside.example.edu",
    "email": "credentials@riverside.example.edu",
    "description": (
        "A fictional college for trying skillsign: its credentials are demonstrations, "
        "not qualifications."
    ),
}


def ensure_institution(session: Session) -> bool:
    """Name the demo's issuing institution unless a profile is stored already (an
    administrator's edits stay); True if it was saved now."""
    from lti_app.services import issuer as issuer_service

    if session.get(IssuerProfile, 1) is not None:
        return False
    issuer_service.save_institution(
        session, **DEMO_INSTITUTION, image=None, remove_image=False, actor_id=None
    )
    return True
