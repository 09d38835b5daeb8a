"""What a launch's roles claim allows, from membership (course) roles only.

pylti1p3's ``check_staff_access()`` accepts *institution* roles, and Canvas
sends institution roles whatever the user's role in the course is
(docs/architecture.md §4). Here only ``membership`` roles decide instructor and learner rights; the
two administrator roles of the person vocabularies make an administrator of
that platform, and nothing else outside ``membership`` counts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

LIS = "http://purl.imsglobal.org/vocab/lis/v2"
MEMBERSHIP = f"{LIS}/membership"

INSTRUCTOR = f"{MEMBERSHIP}#Instructor"
TEACHING_ASSISTANT = f"{MEMBERSHIP}#TeachingAssistant"
# Sub-roles of Instructor (TeachingAssistant, Grader, Lecturer, ...) are instructors too.
INSTRUCTOR_SUBROLE = f"{MEMBERSHIP}/Instructor#"
LEARNER = f"{MEMBERSHIP}#Learner"
LEARNER_SUBROLE = f"{MEMBERSHIP}/Learner#"
ADMINISTRATOR_ROLES = frozenset(
    {f"{LIS}/system/person#Administrator", f"{LIS}/institution/person#Administrator"}
)


@dataclass(frozen=True, slots=True)
class Roles:
    """The roles of one launch, reduced to what skillsign acts on."""

    membership: tuple[str, ...]  # membership role URIs, as sent, in order, no duplicates
    is_instructor: bool
    is_learner: bool
    is_admin: bool  # an administrator *of the launching platform*

    @property
    def label(self) -> str:
        if self.is_instructor:
            return "instructor"
        if self.is_learner:
            return "learner"
        return "none"


def _is_instructor(role: str) -> bool:
    return role in (INSTRUCTOR, TEACHING_ASSISTANT) or role.startswith(INSTRUCTOR_SUBROLE)


def _is_learner(role: str) -> bool:
    return role == LEARNER or role.startswith(LEARNER_SUBROLE)


def classify(claim: Iterable[object] | None) -> Roles:
    """Reduce a roles claim; anything that is not a string is ignored."""
    seen: dict[str, None] = {}
    is_admin = False
    for item in claim or ():
        if not isinstance(item, str):
            continue
        role = item.strip()
        if role in ADMINISTRATOR_ROLES:
            is_admin = True
        elif role.startswith(MEMBERSHIP + "#") or role.startswith(MEMBERSHIP + "/"):
            seen.setdefault(role, None)
    membership = tuple(seen)
    return Roles(
        membership=membership,
        is_instructor=any(_is_instructor(r) for r in membership),
        is_learner=any(_is_learner(r) for r in membership),
        is_admin=is_admin,
    )
