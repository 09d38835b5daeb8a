"""All mapped classes, imported here so ``Base.metadata`` knows every table."""

from lti_app.db.models.audit import AuditEvent
from lti_app.db.models.credentials import Credential, StatusList
from lti_app.db.models.frameworks import FrameworkLevel, FrameworkVersion, Statement
from lti_app.db.models.issuer import IssuerProfile
from lti_app.db.models.launch_sessions import LaunchSession
from lti_app.db.models.lti import (
    Admin,
    Context,
    Deployment,
    LaunchData,
    Membership,
    Nonce,
    Platform,
    RegistryVersion,
    ResourceLink,
    User,
)
from lti_app.db.models.outbox import OutboxMessage
from lti_app.db.models.signoffs import SignoffEvent, SignoffRequest
from lti_app.db.models.wallet import WalletNonce, WalletOffer

__all__ = [
    "Admin",
    "AuditEvent",
    "Context",
    "Credential",
    "Deployment",
    "FrameworkLevel",
    "FrameworkVersion",
    "IssuerProfile",
    "LaunchData",
    "LaunchSession",
    "Membership",
    "Nonce",
    "OutboxMessage",
    "Platform",
    "RegistryVersion",
    "ResourceLink",
    "SignoffEvent",
    "SignoffRequest",
    "Statement",
    "StatusList",
    "User",
    "WalletNonce",
    "WalletOffer",
]
