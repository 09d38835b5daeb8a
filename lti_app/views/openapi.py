"""The OpenAPI 3.1 document of the public API, written by hand so that it says what the code
does and nothing more. A test validates it and checks every path against the app's routes and
the verify responses against its schemas."""

from __future__ import annotations

from typing import Any

from credentials.verify import CHECK_NAMES

STATUSES = ["valid", "invalid", "revoked", "expired", "not_yet_valid", "unreadable"]
FORMATS = ["json", "jwt", "png+json", "png+jwt", "svg+json", "svg+jwt"]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], media_type: str = "application/json") -> dict[str, Any]:
    return {media_type: {"schema": schema}}


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": _json(_ref("Problem"), "application/problem+json"),
    }


def _uuid_param(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string", "format": "uuid"},
    }


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


JSON_OBJECT = {"type": "object"}
CREDENTIAL_ID = _uuid_param("credentialId", "The credential's id (the UUID in its URL).")
LEVEL_ID = _uuid_param("levelId", "A framework level's id.")
CASE_ID = _uuid_param("identifier", "The CASE object's identifier.")


def _schemas() -> dict[str, Any]:
    return {
        "Check": {
            "type": "object",
            "required": ["name", "ok", "reason"],
            "properties": {
                "name": {"type": "string", "enum": list(CHECK_NAMES)},
                "ok": {
                    "type": ["boolean", "null"],
                    "description": "true passed, false failed, null skipped or not applicable",
                },
                "reason": {"type": "string"},
            },
            "additionalProperties": False,
        },
        "VerificationResult": {
            "type": "object",
            "required": [
                "valid",
                "status",
                "format",
                "issuer",
                "verificationMethod",
                "credential",
                "checks",
            ],
            "properties": {
                "valid": {"type": "boolean"},
                "status": {"type": "string", "enum": STATUSES},
                "format": {"type": ["string", "null"], "enum": [*FORMATS, None]},
                "issuer": _ref("IssuerAssessment"),
                "verificationMethod": {"type": ["string", "null"]},
                "credential": {
                    "type": ["object", "null"],
                    "description": "the credential as read (from a JWT: its payload)",
                },
                "checks": {
                    "type": "array",
                    "items": _ref("Check"),
                    "minItems": len(CHECK_NAMES),
                    "maxItems": len(CHECK_NAMES),
                },
            },
            "additionalProperties": False,
        },
        "IssuerAssessment": {
            "type": "object",
            "description": (
                "Who issued the credential. Only `id` (the DID whose key signed it) says who "
                "did; `selfAssertedName` is whatever name the credential gives its issuer, "
                "which anyone can copy. `ours` is true only for this service's own DIDs."
            ),
            "required": ["id", "claimedId", "verified", "ours", "selfAssertedName", "summary"],
            "properties": {
                "id": {
                    "type": ["string", "null"],
                    "description": "the verified issuer DID; null unless `verified`",
                },
                "claimedId": {
                    "type": ["string", "null"],
                    "description": "the issuer id the credential claims, verified or not",
                },
                "verified": {
                    "type": "boolean",
                    "description": "the proof verified with a key that this DID controls",
                },
                "ours": {
                    "type": "boolean",
                    "description": "verified, and the DID is one this service issues as",
                },
                "selfAssertedName": {
                    "type": ["string", "null"],
                    "description": "the issuer name the credential asserts; not checked",
                },
                "summary": {
                    "type": "string",
                    "description": (
                        "e.g. 'Issued by did:key:z6Mk..., not by Example College "
                        "(did:web:example.edu)'"
                    ),
                },
            },
            "additionalProperties": False,
        },
        "VerifyRequest": {
            "description": (
                "Exactly one of credential, url or image; or the credential object itself "
                "(recognised by its @context)."
            ),
            "oneOf": [
                {
                    "type": "object",
                    "required": ["credential"],
                    "properties": {
                        "credential": {
                            "description": "an OpenBadgeCredential, or a VC-JWT",
                            "type": ["object", "string"],
                        }
                    },
                },
                {
                    "type": "object",
                    "required": ["url"],
                    "properties": {"url": {"type": "string", "format": "uri", "maxLength": 2048}},
                },
                {
                    "type": "object",
                    "required": ["image"],
                    "properties": {
                        "image": {
                            "type": "string",
                            "contentEncoding": "base64",
                            "description": "a baked PNG or SVG",
                        }
                    },
                },
                {"type": "object", "required": ["@context"]},
            ],
        },
        "Problem": {
            "type": "object",
            "description": "RFC 9457 problem details",
            "required": ["title", "status", "detail"],
            "properties": {
                "type": {"type": "string"},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "detail": {"type": "string"},
                "code": {"type": "string"},
                "limit": {
                    "type": "object",
                    "description": "the input limit the request exceeded",
                    "required": ["name", "value"],
                    "properties": {"name": {"type": "string"}, "value": {"type": "integer"}},
                },
            },
        },
    }


def openapi_document(base_url: str) -> dict[str, Any]:
    ld = "application/ld+json"
    html = {"text/html": {"schema": {"type": "string"}}}
    verify = {
        "post": {
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
                    "application/json": {"schema": _ref("VerifyRequest")},
                    "application/jwt": {"schema": {"type": "string"}},
                    "image/png": {"schema": {"contentMediaType": "image/png"}},
                    "image/svg+xml": {"schema": {"type": "string"}},
                    "multipart/form-data": {
                        "schema": {
                            "type": "object",
                            "required": ["file"],
                            "properties": {
                                "file": {
                                    "contentMediaType": "application/octet-stream",
                                    "description": "JSON, JWT, PNG or SVG",
                                }
                            },
                        }
                    },
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
    }
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
            "/api/v1/verify": verify,
            "/credentials/{credentialId}": _get(
                "A credential: JSON-LD to JSON clients (Accept), its page to browsers",
                {ld: {"schema": JSON_OBJECT}, **html},
                parameters=[CREDENTIAL_ID],
                tags=["credentials"],
            ),
            "/credentials/{credentialId}.{format}": _get(
                "Download a credential: signed JSON, VC-JWT, or the badge with it baked in",
                {
                    ld: {"schema": JSON_OBJECT},
                    "application/jwt": {"schema": {"type": "string"}},
                    "image/png": {"schema": {"contentMediaType": "image/png"}},
                    "image/svg+xml": {"schema": {"type": "string"}},
                },
                parameters=[
                    CREDENTIAL_ID,
                    {
                        "name": "format",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "enum": ["json", "jwt", "png", "svg"]},
                    },
                ],
                tags=["credentials"],
            ),
            "/credentials/status/{listId}": _get(
                "A signed BitstringStatusListCredential (revocation), did:web issuer",
                _json(JSON_OBJECT, "application/vc+ld+json"),
                parameters=[
                    {
                        "name": "listId",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "integer", "minimum": 0},
                    }
                ],
                tags=["credentials"],
            ),
            "/credentials/status/{listId}/{kid}": _get(
                "The same list signed by one did:key issuer key",
                _json(JSON_OBJECT, "application/vc+ld+json"),
                parameters=[
                    {
                        "name": "listId",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "integer", "minimum": 0},
                    },
                    {"name": "kid", "in": "path", "required": True, "schema": {"type": "string"}},
                ],
                tags=["credentials"],
            ),
            "/achievements/{levelId}": _get(
                "The Achievement of a framework level (JSON-LD or a page)",
                {ld: {"schema": JSON_OBJECT}, **html},
                parameters=[LEVEL_ID],
                tags=["credentials"],
            ),
            "/achievements/{levelId}/badge.{format}": _get(
                "The level's badge image",
                {
                    "image/png": {"schema": {"contentMediaType": "image/png"}},
                    "image/svg+xml": {"schema": {"type": "string"}},
                },
                parameters=[
                    LEVEL_ID,
                    {
                        "name": "format",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "enum": ["png", "svg"]},
                    },
                ],
                tags=["credentials"],
            ),
            "/issuer": _get(
                "The issuer's Profile (JSON-LD or a page)",
                {ld: {"schema": JSON_OBJECT}, **html},
                not_found=False,
                tags=["issuer"],
            ),
            "/.well-known/did.json": _get(
                "The did:web DID document: every credential key not retired",
                _json(JSON_OBJECT, "application/did+ld+json"),
                not_found=False,
                tags=["issuer"],
            ),
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
            "/case/v1p0/CFPackages/{identifier}": _get(
                "A framework version as a CASE 1.0 CFPackage",
                _json(JSON_OBJECT),
                parameters=[CASE_ID],
                tags=["case"],
            ),
            "/case/v1p0/CFDocuments/{identifier}": _get(
                "A CASE CFDocument", _json(JSON_OBJECT), parameters=[CASE_ID], tags=["case"]
            ),
            "/case/v1p0/CFItems/{identifier}": _get(
                "A CASE CFItem (a level or a statement)",
                _json(JSON_OBJECT),
                parameters=[CASE_ID],
                tags=["case"],
            ),
            "/case/v1p0/CFAssociations/{identifier}": _get(
                "A CASE CFAssociation", _json(JSON_OBJECT), parameters=[CASE_ID], tags=["case"]
            ),
            "/case/v1p0/CFItemTypes/{identifier}": _get(
                "A CASE CFItemType", _json(JSON_OBJECT), parameters=[CASE_ID], tags=["case"]
            ),
        },
        "components": {"schemas": _schemas()},
    }
