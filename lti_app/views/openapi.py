"""The OpenAPI 3.1 document of the public API, written by hand so that it says what the code
does and nothing more. A test validates it and checks every path against the app's routes and
the verify responses against its schemas."""

from __future__ import annotations

from typing import Any

from credentials.verify import CHECK_NAMES

STATUSES = [
    "valid",
    "invalid",
    "revoked",
    "expired",
    "not_yet_valid",
    "status_unknown",
    "unreadable",
]
FORMATS = ["json", "jwt", "png+json", "png+jwt", "svg+json", "svg+jwt"]
LD = "application/ld+json"


# -- building blocks ----------------------------------------------------------------------
def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], media_type: str = "application/json") -> dict[str, Any]:
    return {media_type: {"schema": schema}}


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": _json(_ref("Problem"), "application/problem+json"),
    }


def _path_param(
    name: str, schema: dict[str, Any], description: str | None = None
) -> dict[str, Any]:
    param: dict[str, Any] = {"name": name, "in": "path", "required": True}
    if description:
        param["description"] = description
    param["schema"] = schema
    return param


def _uuid_param(name: str, description: str) -> dict[str, Any]:
    return _path_param(name, {"type": "string", "format": "uuid"}, description)


def _format_param(formats: list[str]) -> dict[str, Any]:
    return _path_param("format", {"type": "string", "enum": formats})


def _text(media_type: str) -> dict[str, Any]:
    return {media_type: {"schema": {"type": "string"}}}


def _png() -> dict[str, Any]:
    return {"image/png": {"schema": {"contentMediaType": "image/png"}}}


def _badge_images() -> dict[str, Any]:
    """A baked or plain badge: PNG or SVG."""
    return {**_png(), **_text("image/svg+xml")}


def _ld_or_page() -> dict[str, Any]:
    """JSON-LD to JSON clients (by Accept), an HTML page to browsers."""
    return {**_json(JSON_OBJECT, LD), **_text("text/html")}


def _get(
    summary: str,
    content: dict[str, Any],
    *,
    parameters: list[dict[str, Any]] | None = None,
    not_found: bool = True,
    tags: list[str] | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    responses: dict[str, Any] = {"200": {"description": "OK", "content": content}}
    if not_found:
        responses["404"] = _problem("Not found")
    responses.update(extra or {})
    operation: dict[str, Any] = {"summary": summary, "responses": responses}
    if parameters:
        operation["parameters"] = parameters
    if tags:
        operation["tags"] = tags
    return {"get": operation}


def _object(
    properties: dict[str, Any],
    *,
    required: list[str] | None = None,
    description: str | None = None,
    closed: bool = False,
) -> dict[str, Any]:
    """An object schema; `required` defaults to every property, `closed` allows no others."""
    schema: dict[str, Any] = {"type": "object"}
    if description:
        schema["description"] = description
    schema["required"] = list(properties) if required is None else required
    schema["properties"] = properties
    if closed:
        schema["additionalProperties"] = False
    return schema


def _nullable(type_name: str, description: str | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": [type_name, "null"]}
    if description:
        schema["description"] = description
    return schema


def _described(type_name: str, description: str) -> dict[str, Any]:
    return {"type": type_name, "description": description}


JSON_OBJECT = {"type": "object"}
CREDENTIAL_ID = _uuid_param("credentialId", "The credential's id (the UUID in its URL).")
LEVEL_ID = _uuid_param("levelId", "A framework level's id.")
CASE_ID = _uuid_param("identifier", "The CASE object's identifier.")
LIST_ID = _path_param("listId", {"type": "integer", "minimum": 0})


# -- components ---------------------------------------------------------------------------
def _schemas() -> dict[str, Any]:
    return {
        "Check": _check_schema(),
        "VerificationResult": _verification_result_schema(),
        "IssuerAssessment": _issuer_assessment_schema(),
        "VerifyRequest": _verify_request_schema(),
        "Problem": _problem_schema(),
    }


def _check_schema() -> dict[str, Any]:
    return _object(
        {
            "name": {"type": "string", "enum": list(CHECK_NAMES)},
            "ok": _nullable("boolean", "true passed, false failed, null skipped or not applicable"),
            "reason": {"type": "string"},
        },
        closed=True,
    )


def _verification_result_schema() -> dict[str, Any]:
    return _object(
        {
            "valid": {"type": "boolean"},
            "status": {"type": "string", "enum": STATUSES},
            "format": {"type": ["string", "null"], "enum": [*FORMATS, None]},
            "issuer": _ref("IssuerAssessment"),
            "verificationMethod": _nullable("string"),
            "credential": _nullable("object", "the credential as read (from a JWT: its payload)"),
            "checks": {
                "type": "array",
                "items": _ref("Check"),
                "minItems": len(CHECK_NAMES),
                "maxItems": len(CHECK_NAMES),
            },
            "identity": _object(
                {
                    "email": {
                        "type": "string",
                        "enum": ["matches", "does_not_match", "no_email_identity"],
                        "description": (
                            "whether the credential's subject is the email address given: "
                            "`no_email_identity` when it names its subject no other way "
                            "than, say, a DID"
                        ),
                    }
                },
                description="present only when the request gave an email address",
                closed=True,
            ),
        },
        required=[
            "valid",
            "status",
            "format",
            "issuer",
            "verificationMethod",
            "credential",
            "checks",
        ],
        closed=True,
    )


def _issuer_assessment_schema() -> dict[str, Any]:
    return _object(
        {
            "id": _nullable("string", "the verified issuer DID; null unless `verified`"),
            "claimedId": _nullable(
                "string", "the issuer id the credential claims, verified or not"
            ),
            "verified": _described(
                "boolean", "the proof verified with a key that this DID controls"
            ),
            "ours": _described("boolean", "verified, and the DID is one this service issues as"),
            "selfAssertedName": _nullable(
                "string", "the issuer name the credential asserts; not checked"
            ),
            "summary": _described(
                "string",
                "e.g. 'Issued by did:key:z6Mk..., not by Example College (did:web:example.edu)'",
            ),
        },
        description=(
            "Who issued the credential. Only `id` (the DID whose key signed it) says who "
            "did; `selfAssertedName` is whatever name the credential gives its issuer, "
            "which anyone can copy. `ours` is true only for this service's own DIDs."
        ),
        closed=True,
    )


EMAIL_PROPERTY = {
    "type": "string",
    "format": "email",
    "maxLength": 320,
    "description": (
        "optional: an email address to check the credential against (its subject's hashed "
        "`identifier`, OB 3.0 IdentityObject); the answer is `identity.email`, and the "
        "address is never echoed"
    ),
}


def _verify_request_schema() -> dict[str, Any]:
    return {
        "description": (
            "Exactly one of credential, url or image, with an optional email; or the "
            "credential object itself (recognised by its @context)."
        ),
        "oneOf": [
            _object(
                {
                    "credential": {
                        "description": "an OpenBadgeCredential, or a VC-JWT",
                        "type": ["object", "string"],
                    },
                    "email": EMAIL_PROPERTY,
                },
                required=["credential"],
            ),
            _object(
                {
                    "url": {"type": "string", "format": "uri", "maxLength": 2048},
                    "email": EMAIL_PROPERTY,
                },
                required=["url"],
            ),
            _object(
                {
                    "image": {
                        "type": "string",
                        "contentEncoding": "base64",
                        "description": "a baked PNG or SVG",
                    },
                    "email": EMAIL_PROPERTY,
                },
                required=["image"],
            ),
            {"type": "object", "required": ["@context"]},
        ],
    }


def _problem_schema() -> dict[str, Any]:
    return _object(
        {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "code": {"type": "string"},
            "limit": _object(
                {"name": {"type": "string"}, "value": {"type": "integer"}},
                description="the input limit the request exceeded",
            ),
        },
        required=["title", "status", "detail"],
        description="RFC 9457 problem details",
    )


# -- paths, by area -----------------------------------------------------------------------
def _verify_paths() -> dict[str, Any]:
    upload = _object(
        {
            "file": {
                "contentMediaType": "application/octet-stream",
                "description": "JSON, JWT, PNG or SVG",
            },
            "email": EMAIL_PROPERTY,
        },
        required=["file"],
    )
    operation = {
        "summary": "Verify an Open Badges 3.0 credential",
        "description": (
            "Runs every check (format, well-formedness, proof, issuer key, status, "
            "validity) and names the reason of each. A verification outcome, valid or "
            "not, is a 200 response; `status` says which."
        ),
        "tags": ["verify"],
        "requestBody": {
            "required": True,
            "content": {
                **_json(_ref("VerifyRequest")),
                **_text("application/jwt"),
                **_badge_images(),
                **_json(upload, "multipart/form-data"),
            },
        },
        "responses": {
            "200": {
                "description": "The verification result",
                "content": _json(_ref("VerificationResult")),
            },
            "400": _problem(
                "The request could not be understood, a URL not fetched, or the credential "
                "is over a limit (`limit` names it: json_depth 32, array_items 1000, "
                "object_members 1000, string_length 262144, json_values 100000)"
            ),
            "413": _problem("The request is larger than 4 MiB (`limit`: body_bytes)"),
        },
    }
    return {"/api/v1/verify": {"post": operation}}


def _credential_paths() -> dict[str, Any]:
    return {
        "/credentials/{credentialId}": _get(
            "A credential: JSON-LD to JSON clients (Accept), its page to browsers",
            _ld_or_page(),
            parameters=[CREDENTIAL_ID],
            tags=["credentials"],
        ),
        "/credentials/{credentialId}.{format}": _get(
            "Download a credential: signed JSON, VC-JWT, or the badge with it baked in",
            {**_json(JSON_OBJECT, LD), **_text("application/jwt"), **_badge_images()},
            parameters=[CREDENTIAL_ID, _format_param(["json", "jwt", "png", "svg"])],
            tags=["credentials"],
        ),
        "/credentials/status/{listId}": _get(
            "A signed BitstringStatusListCredential (revocation), did:web issuer",
            _json(JSON_OBJECT, "application/vc+ld+json"),
            parameters=[LIST_ID],
            tags=["credentials"],
        ),
        "/credentials/status/{listId}/{kid}": _get(
            "The same list signed by one did:key issuer key",
            _json(JSON_OBJECT, "application/vc+ld+json"),
            parameters=[LIST_ID, _path_param("kid", {"type": "string"})],
            tags=["credentials"],
        ),
        "/achievements/{levelId}": _get(
            "The Achievement of a framework level (JSON-LD or a page)",
            _ld_or_page(),
            parameters=[LEVEL_ID],
            tags=["credentials"],
        ),
        "/achievements/{levelId}/badge.{format}": _get(
            "The level's badge image",
            _badge_images(),
            parameters=[LEVEL_ID, _format_param(["png", "svg"])],
            tags=["credentials"],
        ),
    }


def _issuer_paths() -> dict[str, Any]:
    return {
        "/issuer": _get(
            "The issuer's Profile (JSON-LD or a page)",
            _ld_or_page(),
            not_found=False,
            tags=["issuer"],
        ),
        "/.well-known/did.json": _get(
            "The did:web DID document: every credential key not retired",
            _json(JSON_OBJECT, "application/did+ld+json"),
            not_found=False,
            tags=["issuer"],
        ),
    }


def _ob2_paths() -> dict[str, Any]:
    return {
        "/ob2/issuer": _get(
            "Open Badges 2.0 Issuer", _json(JSON_OBJECT), not_found=False, tags=["ob2"]
        ),
        "/ob2/badges/{levelId}": _get(
            "Open Badges 2.0 BadgeClass of a level",
            _json(JSON_OBJECT),
            parameters=[LEVEL_ID],
            tags=["ob2"],
        ),
        "/ob2/assertions/{credentialId}": _get(
            "Open Badges 2.0 hosted Assertion",
            _json(JSON_OBJECT),
            parameters=[CREDENTIAL_ID],
            tags=["ob2"],
            extra={
                "410": {
                    "description": "Revoked: the assertion with revoked true",
                    "content": _json(JSON_OBJECT),
                }
            },
        ),
    }


def _case_paths() -> dict[str, Any]:
    summaries = {
        "CFPackages": "A framework version as a CASE 1.0 CFPackage",
        "CFDocuments": "A CASE CFDocument",
        "CFItems": "A CASE CFItem (a level or a statement)",
        "CFAssociations": "A CASE CFAssociation",
        "CFItemTypes": "A CASE CFItemType",
    }
    return {
        f"/case/v1p0/{kind}/{{identifier}}": _get(
            summary, _json(JSON_OBJECT), parameters=[CASE_ID], tags=["case"]
        )
        for kind, summary in summaries.items()
    }


# -- the document -------------------------------------------------------------------------
def openapi_document(base_url: str) -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "skillsign public API",
            "version": "1.0.0",
            "description": (
                "Verification of Open Badges 3.0 credentials, and the public documents "
                "behind the credentials this tool issues."
            ),
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
        },
        "servers": [{"url": base_url}],
        "tags": [
            {"name": "verify"},
            {"name": "credentials"},
            {"name": "issuer"},
            {"name": "ob2", "description": "Open Badges 2.0 hosted objects"},
            {"name": "case", "description": "CASE 1.0 URIs of the frameworks"},
        ],
        "paths": {
            **_verify_paths(),
            **_credential_paths(),
            **_issuer_paths(),
            **_ob2_paths(),
            **_case_paths(),
        },
        "components": {"schemas": _schemas()},
    }
