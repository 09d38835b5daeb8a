"""Offline loader, context cache, RDFC-1.0 escaping and the safe mode pyld lacks."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from credentials import jsonld
from credentials.errors import CredentialShapeError, DocumentLoaderError

CONTEXTS_DIR = Path(jsonld.__file__).parent / "contexts"


def test_every_indexed_context_is_served_and_nothing_else() -> None:
    index = json.loads((CONTEXTS_DIR / "index.json").read_text())
    assert jsonld.VC_V2_CONTEXT in index and jsonld.OB_V3_CONTEXT in index
    # VC 1.1 and the Ed25519Signature2020 suite: for verifying credentials in that form.
    assert jsonld.VC_V1_CONTEXT in index and jsonld.ED25519_2020_CONTEXT in index
    for url, name in index.items():
        remote = jsonld.document_loader(url)
        assert remote["documentUrl"] == url
        assert remote["document"] == json.loads((CONTEXTS_DIR / name).read_text())
        assert "@context" in remote["document"]
    with pytest.raises(DocumentLoaderError, match="not available offline"):
        jsonld.document_loader("https://w3id.org/security/suites/ed25519-2018/v1")


def test_loader_copies_so_callers_cannot_corrupt_the_vendored_context() -> None:
    first = jsonld.document_loader(jsonld.VC_V2_CONTEXT)["document"]
    first["@context"]["name"] = "https://evil.example/name"
    again = jsonld.document_loader(jsonld.VC_V2_CONTEXT)["document"]
    assert again["@context"]["name"] == "https://schema.org/name"


def test_run_loader_serves_registered_documents_without_caching_them() -> None:
    did_doc = {"@context": [jsonld.DID_V1_CONTEXT], "id": "did:web:a.example"}
    loader = jsonld.DocumentLoader({"did:web:a.example": did_doc})
    assert loader.load("did:web:a.example") == did_doc
    assert "tag" not in loader("did:web:a.example")
    assert loader("https://www.w3.org/ns/did/v1")["tag"] == "static"
    with pytest.raises(DocumentLoaderError):
        loader("did:web:b.example")
    with pytest.raises(ValueError, match="vendored"):
        loader.register(jsonld.VC_V2_CONTEXT, {"@context": {}})
    # Registered documents belong to that loader only.
    with pytest.raises(DocumentLoaderError):
        jsonld.document_loader("did:web:a.example")


def test_processed_contexts_are_reused_between_documents(make_credential) -> None:
    calls: list[str] = []

    def counting_loader(url: str, options: dict | None = None) -> dict:
        calls.append(url)
        return jsonld.document_loader(url, options)

    jsonld.clear_context_cache()
    first = jsonld.canonicalize(make_credential(), loader=counting_loader)
    loaded_once = len(calls)
    assert loaded_once >= 2  # VC v2 and OB 3.0.3 were loaded and processed
    second = jsonld.canonicalize(make_credential(), loader=counting_loader)
    assert second == first
    assert len(calls) == loaded_once  # served from the processed-context cache


@pytest.mark.parametrize(
    ("codepoint", "expected"),
    [
        (0x08, "\\b"),
        (0x09, "\\t"),
        (0x0A, "\\n"),
        (0x0C, "\\f"),
        (0x0D, "\\r"),
        (0x00, "\\u0000"),
        (0x01, "\\u0001"),
        (0x0B, "\\u000B"),
        (0x1F, "\\u001F"),
        (0x7F, "\\u007F"),
        (0x22, '\\"'),
        (0x5C, "\\\\"),
    ],
)
def test_literal_escaping_follows_rdfc_1_0(codepoint: int, expected: str) -> None:
    assert jsonld.escape_literal(f"a{chr(codepoint)}b") == f"a{expected}b"


def test_non_ascii_is_not_escaped() -> None:
    text = "é ☃ 😀 שלום مرحبا 中文 \u0080 \u2028"
    assert jsonld.escape_literal(text) == text


def test_canonical_form_escapes_control_characters(make_credential) -> None:
    credential = make_credential()
    credential["name"] = "tab\there bell\x07 ff\x0c del\x7f"
    nquads = jsonld.canonicalize(credential)
    line = next(line for line in nquads.splitlines() if "schema.org/name" in line and "tab" in line)
    assert '"tab\\there bell\\u0007 ff\\f del\\u007F"' in line
    assert "\x07" not in nquads and "\x0c" not in nquads and "\x7f" not in nquads


def _shape_error(document: dict) -> CredentialShapeError:
    with pytest.raises(CredentialShapeError) as caught:
        jsonld.canonicalize(document)
    return caught.value


def test_typo_term_is_rejected_with_its_path(make_credential) -> None:
    credential = make_credential()
    subject = credential["credentialSubject"]
    subject["achievment"] = subject.pop("achievement")
    error = _shape_error(credential)
    assert error.term == "achievment"
    assert error.path == "credentialSubject.achievment"
    assert "undefined term 'achievment'" in str(error)


def test_typo_deep_inside_a_scoped_context_is_rejected(make_credential) -> None:
    credential = make_credential()
    credential["credentialSubject"]["achievement"]["alignment"][1]["targetNmae"] = "x"
    error = _shape_error(credential)
    assert error.path == "credentialSubject.achievement.alignment[1].targetNmae"


def test_undefined_type_is_rejected(make_credential) -> None:
    credential = make_credential()
    credential["credentialSubject"]["type"] = ["AchievementSubjekt"]
    error = _shape_error(credential)
    assert "undefined type 'AchievementSubjekt'" in str(error)
    assert error.path == "credentialSubject.type[0]"


def test_undefined_vocabulary_value_is_rejected(make_credential) -> None:
    config = {
        "@context": make_credential()["@context"],
        "type": "DataIntegrityProof",
        "proofPurpose": "assertionMethd",
    }
    assert _shape_error(config).term == "assertionMethd"


@pytest.mark.parametrize("relative", ["learner/1", "#me", "", "did:example:has space"])
def test_relative_or_broken_iri_is_rejected(make_credential, relative: str) -> None:
    credential = make_credential()
    credential["credentialSubject"]["id"] = relative
    error = _shape_error(credential)
    assert "not an absolute IRI" in str(error)


def test_null_values_and_fake_keywords_are_rejected(make_credential) -> None:
    credential = make_credential()
    credential["description"] = None
    assert _shape_error(credential).path == "description"
    credential = make_credential()
    credential["issuer"]["@fancy"] = "x"
    assert _shape_error(credential).path == "issuer.@fancy"
    credential = make_credential()
    credential["issuer"]["@index"] = "x"  # a real keyword, but it never reaches the RDF
    assert _shape_error(credential).path == "issuer.@index"


def test_unknown_context_is_rejected_without_fetching(make_credential) -> None:
    credential = make_credential()
    credential["@context"].append("https://example.com/my-context.json")
    error = _shape_error(credential)
    assert error.path == "@context"
    assert "https://example.com/my-context.json" in str(error)


def test_missing_context_and_non_objects_are_rejected() -> None:
    assert "missing @context" in str(_shape_error({"name": "x"}))
    with pytest.raises(CredentialShapeError, match="JSON object"):
        jsonld.canonicalize(["not", "an", "object"])  # type: ignore[arg-type]


def test_safe_expansion_matches_plain_expansion(make_credential) -> None:
    credential = make_credential()
    expanded = jsonld.expand_safe(copy.deepcopy(credential))
    assert "undefined-term" not in json.dumps(expanded)
    assert expanded[0]["@id"] == credential["id"]


@pytest.mark.parametrize("key", [" ", "two words", "tab\tkey", "<angle>"])
def test_keys_that_cannot_become_iris_are_rejected(make_credential, key: str) -> None:
    credential = make_credential()
    credential[key] = "x"
    error = _shape_error(credential)
    assert error.term == key
    assert error.path == key


def test_same_result_as_stock_pyld(make_credential, sign, status_list_for) -> None:
    """Our shortcuts (processed-context reuse for type-scoped contexts, no second expansion)
    must not change the result: compare with pyld's own normalize, warm and cold."""
    from pyld import jsonld as pyld_jsonld

    documents = [make_credential(), sign(make_credential()), status_list_for(3)]
    options = {
        "algorithm": "URDNA2015",
        "format": "application/n-quads",
        "base": None,
        "documentLoader": jsonld.document_loader,
    }
    for document in documents:
        stock = pyld_jsonld.normalize(copy.deepcopy(document), options)
        jsonld.clear_context_cache()
        assert jsonld.canonicalize(document) == stock  # cold
        assert jsonld.canonicalize(document) == stock  # warm


def test_warm_cache_processes_no_context_again(make_credential, monkeypatch) -> None:
    """Once warm, canonicalizing another credential defines no term again: the processed
    contexts, type-scoped ones included, all come from the cache."""
    from pyld import jsonld as pyld_jsonld

    jsonld.canonicalize(make_credential())  # warm up
    created: list[str] = []
    original = pyld_jsonld.JsonLdProcessor._create_term_definition

    def counting(self, active_ctx, local_ctx, term, *args, **kwargs):
        created.append(term)
        return original(self, active_ctx, local_ctx, term, *args, **kwargs)

    monkeypatch.setattr(pyld_jsonld.JsonLdProcessor, "_create_term_definition", counting)
    other = make_credential(credential_id="urn:uuid:7d1c0f1e-0000-4000-8000-000000000001")
    jsonld.canonicalize(other)
    assert created == []
    jsonld.clear_context_cache()
    jsonld.canonicalize(other)
    assert len(created) > 100  # a cold cache does process them (the test can see it)
