"""The verify API bounds what it reads, and says which limit a request hit (problem+json with
the limit's name and value): body bytes, JSON depth, array items, object members, string
length, values in all. A real credential is far inside every limit."""

from __future__ import annotations

import copy
import io
import itertools
import json
from typing import Any

import jsonschema
import pytest
from werkzeug.datastructures import FileStorage

from credentials.baking import bake_png
from lti_app.views.verify import LIMITS, MAX_UPLOAD_BYTES

_addresses = itertools.count(1)


def _post(client, **kwargs: Any):
    n = next(_addresses)
    return client.post(
        "/api/v1/verify",
        environ_overrides={"REMOTE_ADDR": f"10.88.{n // 250}.{n % 250 + 1}"},
        **kwargs,
    )


def _refused(answer, name: str, status: int = 400) -> dict[str, Any]:
    assert answer.status_code == status, answer.get_data(as_text=True)[:300]
    assert answer.mimetype == "application/problem+json"
    body = answer.json
    assert body["limit"] == {"name": name, "value": LIMITS.get(name, MAX_UPLOAD_BYTES)}
    assert f"({name})" in body["detail"] or name == "body_bytes"
    return body


def _nested(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = [value]
    return value


def _with(document: dict[str, Any], **extra: Any) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    changed["credentialSubject"].update(extra)
    return changed


def test_a_real_credential_is_inside_every_limit(client, issued) -> None:
    answer = _post(client, json=issued.document)
    assert answer.status_code == 200 and answer.json["valid"] is True


def test_body_bytes(client) -> None:
    body = b'{"credential": "' + b"a" * MAX_UPLOAD_BYTES + b'"}'
    answer = _post(client, data=body, content_type="application/json")
    _refused(answer, "body_bytes", 413)
    raw = _post(client, data=b"a" * (MAX_UPLOAD_BYTES + 1), content_type="application/jwt")
    _refused(raw, "body_bytes", 413)


def test_json_depth(client, issued) -> None:
    limit = LIMITS["json_depth"]
    body = _refused(_post(client, json=_with(issued.document, deep=_nested(limit))), "json_depth")
    assert "credentialSubject.deep" in body["detail"]
    # So deep that Python's parser gives up: the same limit, not a crash.
    hostile = b'{"credential": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    _refused(_post(client, data=hostile, content_type="application/json"), "json_depth")
    # One level less than the limit is only a bad credential (its signature breaks).
    inside = _post(client, json=_with(issued.document, deep=_nested(limit - 4)))
    assert inside.status_code == 200 and inside.json["valid"] is False


def test_array_items(client, issued) -> None:
    document = copy.deepcopy(issued.document)
    alignments = document["credentialSubject"]["achievement"]["alignment"]
    document["credentialSubject"]["achievement"]["alignment"] = (
        alignments * (LIMITS["array_items"] // len(alignments) + 1)
    )[: LIMITS["array_items"] + 1]
    body = _refused(_post(client, json={"credential": document}), "array_items")
    assert "credentialSubject.achievement.alignment has 1001 items" in body["detail"]
    results = _with(issued.document, result=[{"type": ["Result"]}] * 1001)
    _refused(_post(client, json=results), "array_items")


def test_object_members(client, issued) -> None:
    wide = {f"k{i}": i for i in range(LIMITS["object_members"] + 1)}
    _refused(_post(client, json=_with(issued.document, wide=wide)), "object_members")


def test_string_length(client, issued) -> None:
    long = "a" * (LIMITS["string_length"] + 1)
    body = _refused(_post(client, json=_with(issued.document, note=long)), "string_length")
    assert "credentialSubject.note" in body["detail"]


def test_json_values(client, issued) -> None:
    rows = LIMITS["json_values"] // 900 + 1
    many = {f"r{i}": list(range(900)) for i in range(rows)}
    _refused(_post(client, json=_with(issued.document, many=many)), "json_values")


@pytest.mark.parametrize("how", ["png", "multipart"])
def test_limits_hold_however_the_credential_arrives(client, issued, how) -> None:
    deep = json.dumps(_with(issued.document, deep=_nested(LIMITS["json_depth"])))
    badge = client.get(f"/achievements/{issued.level_id}/badge.png").data
    png = bake_png(badge, deep)
    if how == "png":
        answer = _post(client, data=png, content_type="image/png")
    else:
        upload = FileStorage(stream=io.BytesIO(png), filename="badge.png")
        answer = _post(client, data={"file": upload}, content_type="multipart/form-data")
    _refused(answer, "json_depth")


def test_the_openapi_document_names_every_limit(client, issued) -> None:
    from openapi_spec_validator import validate

    spec = client.get("/api/openapi.json").json
    validate(spec)
    responses = spec["paths"]["/api/v1/verify"]["post"]["responses"]
    for name, value in LIMITS.items():
        assert f"{name} {value}" in responses["400"]["description"]
    assert "body_bytes" in responses["413"]["description"]
    problem = {"$ref": "#/components/schemas/Problem", "components": spec["components"]}
    wide = {f"k{i}": i for i in range(LIMITS["object_members"] + 1)}
    refused = _post(client, json=_with(issued.document, wide=wide)).json
    jsonschema.validate(refused, problem)
    assert set(spec["components"]["schemas"]["Problem"]["properties"]) >= set(refused)
