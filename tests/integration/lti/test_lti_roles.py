"""Roles come from membership (course) roles only."""

from __future__ import annotations

import pytest

from lti_app.lms.roles import classify

LIS = "http://purl.imsglobal.org/vocab/lis/v2"


@pytest.mark.parametrize(
    ("roles", "instructor", "learner", "admin"),
    [
        ([f"{LIS}/membership#Instructor"], True, False, False),
        ([f"{LIS}/membership#TeachingAssistant"], True, False, False),
        ([f"{LIS}/membership/Instructor#TeachingAssistant"], True, False, False),
        ([f"{LIS}/membership#Learner"], False, True, False),
        ([f"{LIS}/institution/person#Instructor"], False, False, False),
        (
            [f"{LIS}/institution/person#Faculty", f"{LIS}/institution/person#Staff"],
            False,
            False,
            False,
        ),
        ([f"{LIS}/system/person#Administrator"], False, False, True),
        (
            [f"{LIS}/institution/person#Administrator", f"{LIS}/membership#Learner"],
            False,
            True,
            True,
        ),
        (["Instructor", "Learner"], False, False, False),  # short names are not membership URIs
        ([42, None, {"role": "x"}], False, False, False),
        (None, False, False, False),
    ],
)
def test_classify(roles, instructor, learner, admin):
    result = classify(roles)
    assert (result.is_instructor, result.is_learner, result.is_admin) == (
        instructor,
        learner,
        admin,
    )


def test_only_membership_roles_are_kept_once_each():
    roles = [
        f"{LIS}/membership#Learner",
        f"{LIS}/institution/person#Instructor",
        f"{LIS}/membership#Learner",
        f"{LIS}/membership/Learner#NonCreditLearner",
    ]
    assert classify(roles).membership == (
        f"{LIS}/membership#Learner",
        f"{LIS}/membership/Learner#NonCreditLearner",
    )
