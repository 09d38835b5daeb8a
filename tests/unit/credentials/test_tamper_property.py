"""Property: any change to a signed credential - a value changed, deleted or added anywhere,
the proof included - is detected."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from credentials import data_integrity, did

Path = tuple[Any, ...]


def _containers(node: Any, path: Path = ()) -> Iterator[Path]:
    if isinstance(node, dict | list):
        yield path
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in items:
            yield from _containers(value, (*path, key))


def _scalars(node: Any, path: Path = ()) -> Iterator[Path]:
    if isinstance(node, dict | list):
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in items:
            yield from _scalars(value, (*path, key))
    else:
        yield path


def _get(node: Any, path: Path) -> Any:
    for key in path:
        node = node[key]
    return node


# New values are drawn so they always differ from what is there: a value equal to the old one
# (or a duplicate in an RDF set) is no change at all.
_new_text = st.text(min_size=1, max_size=12).map(lambda s: f"~{s}")
_new_scalar = st.one_of(_new_text, st.integers(), st.booleans())
_new_key = st.one_of(
    st.sampled_from(
        ["name", "description", "id", "type", "narrative", "url", "nonce", "@type", "@id"]
    ),
    st.text(min_size=1, max_size=10),
)


def _changed(old: Any, data: st.DataObject) -> Any:
    if isinstance(old, bool):
        return not old
    if isinstance(old, int):
        return old + data.draw(st.integers(min_value=1, max_value=10**6))
    if isinstance(old, str):
        return data.draw(st.one_of(_new_text.map(lambda s: old + s), _new_text))
    return data.draw(_new_text)


@pytest.fixture(scope="module")
def signed_and_resolver(issuer_did, did_document, signing_key, verification_method):
    from credentials import ob3, status_list

    credential = ob3.build_credential(
        credential_id="urn:uuid:3f1d9a52-5a0b-4f5e-8d52-7a0e5b1c2d3e",
        issuer=ob3.Issuer(id=issuer_did, name="Example College", url="https://skills.example.edu"),
        achievement=ob3.AchievementInput(
            id="https://skills.example.edu/levels/1",
            name="Entry level",
            description="All entry statements met",
            criteria_narrative="Signed off by an instructor",
            alignments=[
                ob3.Alignment("Competency A", "https://case.example.org/uri/a", "does A"),
                ob3.Alignment("Competency B", "https://case.example.org/uri/b"),
            ],
            tags=("x",),
        ),
        subject=ob3.Subject(identifier_email="learner@example.edu", salt="pepper", name="Ada"),
        valid_from="2025-01-01T00:00:00Z",
        valid_until="2030-01-01T00:00:00Z",
        status=status_list.StatusEntry("https://skills.example.edu/status/1", 7),
        evidence=[ob3.EvidenceItem(name="Sign-offs", narrative="2 of 2", genre="Sign-off")],
    )
    signed = data_integrity.sign(credential, signing_key, verification_method)
    documents = {issuer_did: did_document}

    def resolve(vm: str) -> Any:
        return did.resolve_verification_method(vm, documents)

    assert data_integrity.verify(signed, resolve).verified
    return signed, resolve


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data(), operation=st.sampled_from(["change", "delete", "add"]))
def test_any_mutation_is_detected(signed_and_resolver, data: st.DataObject, operation: str) -> None:
    signed, resolve = signed_and_resolver
    mutated = copy.deepcopy(signed)
    if operation == "change":
        path = data.draw(st.sampled_from(list(_scalars(mutated))))
        parent = _get(mutated, path[:-1])
        parent[path[-1]] = _changed(parent[path[-1]], data)
    elif operation == "delete":
        deletable = [p for p in _containers(mutated) if _get(mutated, p)]
        path = data.draw(st.sampled_from(deletable))
        container = _get(mutated, path)
        keys = list(container) if isinstance(container, dict) else list(range(len(container)))
        del container[data.draw(st.sampled_from(keys))]
    else:
        path = data.draw(st.sampled_from(list(_containers(mutated))))
        container = _get(mutated, path)
        if isinstance(container, dict):
            key = data.draw(_new_key)
            old = container.get(key)
            container[key] = _changed(old, data) if old is not None else data.draw(_new_scalar)
        else:
            container.append(data.draw(_new_scalar.filter(lambda v: v not in container)))
    result = data_integrity.verify(mutated, resolve)
    assert not result.verified, (operation, path)
