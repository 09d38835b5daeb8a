"""The outbound service client: token caching, client assertions, URLs, paging."""

from __future__ import annotations

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from support.servers import serve
from support.services_platform import CLIENT_ID, ISSUER
from werkzeug.wrappers import Request, Response

from keys import KeyKind
from lti_app.lms import (
    CLIENT_ASSERTION_TYPE,
    SCOPE_LINEITEM,
    SCOPE_NRPS,
    SCOPE_SCORE,
    AccessTokenCache,
    PlatformCredentials,
    ServiceError,
    ServicesClient,
    service_url,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _client(platform, tool_keys, tokens) -> ServicesClient:
    creds = PlatformCredentials(ISSUER, CLIENT_ID, platform.token_url)
    return ServicesClient(creds, tool_keys, tokens=tokens, timeout=(2.0, 2.0))


def test_one_token_for_many_calls_until_it_expires(db, tool_keys, platform):
    clock = Clock()
    client = _client(platform, tool_keys, AccessTokenCache(clock))
    for _ in range(5):
        client.lineitems(platform.lineitems_url, scopes=[SCOPE_LINEITEM, SCOPE_SCORE])
    assert platform.state.token_requests == 1

    client.access_token([SCOPE_NRPS])  # another scope set is another token
    assert platform.state.token_requests == 2

    clock.now += 3600 - 61  # still inside the lifetime less the renewal margin
    client.lineitems(platform.lineitems_url, scopes=[SCOPE_SCORE, SCOPE_LINEITEM])
    assert platform.state.token_requests == 2
    clock.now += 2  # within the last minute: renewed before it can expire mid-call
    client.lineitems(platform.lineitems_url, scopes=[SCOPE_LINEITEM, SCOPE_SCORE])
    assert platform.state.token_requests == 3


def test_client_assertion_is_signed_by_the_active_tool_key(tool_keys):
    creds = PlatformCredentials(ISSUER, CLIENT_ID, "https://lms.example/token", audience=None)
    client = ServicesClient(creds, tool_keys, tokens=AccessTokenCache())
    first, second = client.client_assertion(), client.client_assertion()
    keyset = KeySet.import_key_set(tool_keys.public_jwks(KeyKind.RSA))
    token = jwt.decode(first, keyset, algorithms=["RS256"])
    assert token.header["kid"] == tool_keys.active(KeyKind.RSA).kid
    claims = token.claims
    assert claims["iss"] == claims["sub"] == CLIENT_ID
    assert claims["aud"] == "https://lms.example/token"
    assert 0 < claims["exp"] - claims["iat"] <= 300
    assert claims["jti"] != jwt.decode(second, keyset).claims["jti"]

    audience = PlatformCredentials(ISSUER, CLIENT_ID, "https://lms.example/token", "https://aud")
    claims = jwt.decode(ServicesClient(audience, tool_keys).client_assertion(), keyset).claims
    assert claims["aud"] == "https://aud"


def test_refused_token_is_a_clear_error(db, tool_keys, platform):
    platform.fail("/token", status=400, body='{"error": "invalid_client"}')
    client = _client(platform, tool_keys, AccessTokenCache())
    with pytest.raises(ServiceError, match="refused an access token") as refused:
        client.access_token([SCOPE_SCORE])
    assert refused.value.status == 400 and not refused.value.transient
    with pytest.raises(ValueError, match="at least one scope"):
        client.access_token([])


def test_an_unreachable_platform_is_transient(tool_keys):
    creds = PlatformCredentials(ISSUER, CLIENT_ID, "http://127.0.0.1:9/token")
    client = ServicesClient(creds, tool_keys, tokens=AccessTokenCache(), timeout=(0.5, 0.5))
    with pytest.raises(ServiceError, match="no answer") as failed:
        client.access_token([SCOPE_SCORE])
    assert failed.value.status is None and failed.value.transient


def test_service_urls_keep_the_query_string():
    assert (
        service_url(
            "https://moodle.example/mod/lti/services.php/2/lineitems/7/lineitem?type_id=3",
            "/scores",
        )
        == "https://moodle.example/mod/lti/services.php/2/lineitems/7/lineitem/scores?type_id=3"
    )
    assert service_url("https://canvas.example/api/lti/courses/1/line_items/5/", "/results") == (
        "https://canvas.example/api/lti/courses/1/line_items/5/results"
    )


def test_paging_that_loops_is_stopped(db, tool_keys, platform):
    client = _client(platform, tool_keys, AccessTokenCache())
    url = platform.memberships_url
    # A broken platform whose "next" page is the page itself.
    platform.fail(
        "/memberships",
        times=5,
        status=200,
        body='{"members": [{"user_id": "u1", "roles": []}]}',
        headers={"Link": f'<{url}>; rel="next"'},
    )
    with pytest.raises(ServiceError, match="paging does not end"):
        list(client.memberships(url))


def test_a_declared_audience_reaches_the_token_endpoint(tool_keys):
    # Canvas: the assertion's audience is not the token URL. A real token endpoint checks
    # the signature and the audience as the platform does, through our fetcher.
    canvas_audience = "https://canvas.instructure.com/login/oauth2/token"
    keyset = KeySet.import_key_set(tool_keys.public_jwks(KeyKind.RSA))
    seen: list[dict[str, str]] = []

    @Request.application
    def token_endpoint(request: Request) -> Response:
        form = request.form.to_dict()
        seen.append(form)
        claims = jwt.decode(form["client_assertion"], keyset, algorithms=["RS256"]).claims
        if claims["aud"] != canvas_audience:
            return Response('{"error": "invalid_client"}', 400, mimetype="application/json")
        return Response(
            '{"access_token": "t-1", "token_type": "Bearer", "expires_in": 3600}',
            mimetype="application/json",
        )

    server = serve(token_endpoint)
    try:
        url = f"{server.url}/login/oauth2/token"
        declared = PlatformCredentials(ISSUER, CLIENT_ID, url, audience=canvas_audience)
        client = ServicesClient(declared, tool_keys, tokens=AccessTokenCache())
        assert client.access_token([SCOPE_SCORE, SCOPE_LINEITEM]) == "t-1"
        assert seen[0]["grant_type"] == "client_credentials"
        assert seen[0]["client_assertion_type"] == CLIENT_ASSERTION_TYPE
        assert seen[0]["scope"] == f"{SCOPE_LINEITEM} {SCOPE_SCORE}"

        undeclared = PlatformCredentials(ISSUER, CLIENT_ID, url)  # aud would be the URL
        with pytest.raises(ServiceError, match="refused an access token") as refused:
            ServicesClient(undeclared, tool_keys, tokens=AccessTokenCache()).access_token(
                [SCOPE_SCORE]
            )
        assert refused.value.status == 400
    finally:
        server.stop()
