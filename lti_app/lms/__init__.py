"""The LMS as the tool's services see it: LTI vocabulary and the platform's web services.

Below ``lti_app.services`` (docs/architecture.md §1): nothing here imports Flask,
``lti_app.lti``, ``lti_app.views`` or ``lti_app.services``. The fetcher (the app's bulkhead
and deadline) and the tool's keys come in as parameters.

* ``claims``, ``roles``: what a platform's messages and rosters say;
* ``tokens``: OAuth 2.0 client-credentials tokens with a JWT client assertion, cached;
* ``client``: AGS (line items, scores, results) and NRPS (memberships) calls;
* ``transport``: the one way those calls reach the network (``lti_app.outbound``).
"""

from __future__ import annotations

from lti_app.lms.client import (
    MEDIA_LINEITEM,
    MEDIA_LINEITEMS,
    MEDIA_MEMBERSHIPS,
    MEDIA_RESULTS,
    MEDIA_SCORE,
    SCOPE_LINEITEM,
    SCOPE_LINEITEM_READONLY,
    SCOPE_NRPS,
    SCOPE_RESULT_READONLY,
    SCOPE_SCORE,
    ServicesClient,
    service_url,
)
from lti_app.lms.tokens import (
    CLIENT_ASSERTION_TYPE,
    TOKENS,
    AccessTokenCache,
    PlatformCredentials,
)
from lti_app.lms.transport import MAX_ANSWER_BYTES, MAX_PAGES, TIMEOUT, ServiceError

__all__ = [
    "CLIENT_ASSERTION_TYPE",
    "MAX_ANSWER_BYTES",
    "MAX_PAGES",
    "MEDIA_LINEITEM",
    "MEDIA_LINEITEMS",
    "MEDIA_MEMBERSHIPS",
    "MEDIA_RESULTS",
    "MEDIA_SCORE",
    "SCOPE_LINEITEM",
    "SCOPE_LINEITEM_READONLY",
    "SCOPE_NRPS",
    "SCOPE_RESULT_READONLY",
    "SCOPE_SCORE",
    "TIMEOUT",
    "TOKENS",
    "AccessTokenCache",
    "PlatformCredentials",
    "ServiceError",
    "ServicesClient",
    "service_url",
]
