"""1EdTech CASE 1.0 CFPackage export and import.

Export: one CFDocument; CFItems typed "Level" (one per level) and "Statement";
isChildOf associations (statement -> level, sequenceNumber = position; level ->
document, sequenceNumber = level order). The output stays within the CASE 1.0
package schema. What CASE has no field for (the framework identifier, the exact
description, the context covered and Framework.extra) travels as a small JSON
object in CFDocument.notes ({"skillsign": {...}}), so our own packages import
back to the same framework.

Import also takes third-party packages without that note: identifier =
CFDocument.uri (or identifier), version = CFDocument.version (or
lastChangeDateTime), level key = humanCodingScheme (or a slug of the label).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from . import _json
from ._json import ROOT, child, index, type_name
from .errors import ErrorList, FrameworkError
from .ler import extra_conflicts
from .model import NAMESPACE, Framework, LevelSpec, Statement

CASE_PATH = "case/v1p0"
KINDS = frozenset({"CFDocuments", "CFItems", "CFAssociations", "CFItemTypes", "CFPackages"})
LEVEL_TYPE = "Level"
STATEMENT_TYPE = "Statement"
HINT_KEY = "skillsign"
CREATOR = "skillsign"  # CFDocument.creator
ABBREVIATED_MAX = 60  # longer competencies are left to fullStatement

_ITEM_TYPES = (
    (LEVEL_TYPE, "1", "A level of a skills framework; its children are its statements."),
    (STATEMENT_TYPE, "2", "A competency statement: competency \u2014 performance description."),
)


def case_uri(base_url: str, kind: str, identifier: uuid.UUID | str) -> str:
    """The URI of a CASE object served by this tool, e.g. .../case/v1p0/CFItems/<id>."""
    if kind not in KINDS:
        raise ValueError(f"unknown CASE kind {kind!r}; expected one of {sorted(KINDS)}")
    return f"{base_url.rstrip('/')}/{CASE_PATH}/{kind}/{identifier}"


def association_id(origin: uuid.UUID | str, destination: uuid.UUID | str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"isChildOf\n{origin}\n{destination}")


def write_case(
    fw: Framework,
    base_url: str,
    *,
    changed: datetime | None = None,
) -> dict[str, Any]:
    """The framework as a CASE 1.0 CFPackage (a JSON-ready dict).

    `changed` (timezone-aware) is the lastChangeDateTime; by default the source's
    exportedAt when it has one, else now.
    """
    scheme, netloc = urlsplit(base_url)[:2]
    if scheme not in ("http", "https") or not netloc:
        raise ValueError(f"base_url must be an absolute http(s) URL, got {base_url!r}")
    base = base_url.rstrip("/")
    when = _timestamp(changed, fw.extra)
    type_links, item_types = _item_types(base, when)
    package = _PackageWriter(base, when, _document_link(fw, base), type_links)
    for order, level in enumerate(fw.levels, start=1):
        level_link = package.add_item(
            level.id,
            LEVEL_TYPE,
            {
                "fullStatement": level.label,
                "humanCodingScheme": level.key,
                "listEnumeration": str(order),
            },
        )
        package.add_child_of(level_link, package.doc_link, order)
        for statement in level.statements:
            statement_link = package.add_item(
                statement.id, STATEMENT_TYPE, _statement_fields(level.key, statement)
            )
            package.add_child_of(statement_link, level_link, statement.position)
    return {
        "CFDocument": _document(fw, base, when),
        "CFItems": package.items,
        "CFAssociations": package.associations,
        "CFDefinitions": {"CFItemTypes": item_types},
    }


def _document_link(fw: Framework, base: str) -> dict[str, str]:
    doc_id = str(fw.id)
    return {"title": fw.title, "identifier": doc_id, "uri": case_uri(base, "CFDocuments", doc_id)}


def _document(fw: Framework, base: str, when: str) -> dict[str, Any]:
    """The CFDocument, with what CASE has no field for in its notes."""
    doc_id = str(fw.id)
    hint = {
        "identifier": fw.identifier,
        "description": fw.description,
        "contextCovered": fw.context_covered,
        "extra": _json.thaw(fw.extra),
    }
    return {
        "identifier": doc_id,
        "uri": case_uri(base, "CFDocuments", doc_id),
        "CFPackageURI": {
            "title": fw.title,
            "identifier": doc_id,
            "uri": case_uri(base, "CFPackages", doc_id),
        },
        "creator": CREATOR,
        "title": fw.title,
        "lastChangeDateTime": when,
        # People read the description; the exact fields travel in the note.
        "description": fw.description or fw.context_covered,
        "version": fw.version,
        "notes": json.dumps({HINT_KEY: hint}, ensure_ascii=False),
    }


def _item_types(base: str, when: str) -> tuple[dict[str, dict[str, str]], list[dict[str, Any]]]:
    """The links to our two CFItemTypes (by title) and their definitions."""
    type_links = {}
    item_types = []
    for title, code, description in _ITEM_TYPES:
        type_id = str(uuid.uuid5(NAMESPACE, f"case-item-type\n{title}"))
        uri = case_uri(base, "CFItemTypes", type_id)
        type_links[title] = {"title": title, "identifier": type_id, "uri": uri}
        item_types.append(
            {
                "identifier": type_id,
                "uri": uri,
                "title": title,
                "description": description,
                "hierarchyCode": code,
                "typeCode": title,
                "lastChangeDateTime": when,
            }
        )
    return type_links, item_types


def _statement_fields(level_key: str, statement: Statement) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "fullStatement": statement.text,
        "humanCodingScheme": f"{level_key}.{statement.position}",
        "listEnumeration": str(statement.position),
    }
    competency = statement.competency
    if (
        statement.performance is not None
        and competency.strip()
        and len(competency) <= ABBREVIATED_MAX
    ):
        fields["abbreviatedStatement"] = competency
    return fields


class _PackageWriter:
    """The CFItems and isChildOf CFAssociations of one package, in the order added."""

    def __init__(
        self, base: str, when: str, doc_link: dict[str, str], type_links: dict[str, dict[str, str]]
    ) -> None:
        self.base = base
        self.when = when
        self.doc_link = doc_link
        self.type_links = type_links
        self.items: list[dict[str, Any]] = []
        self.associations: list[dict[str, Any]] = []

    def add_item(
        self, item_id: uuid.UUID, item_type: str, fields: dict[str, Any]
    ) -> dict[str, str]:
        uri = case_uri(self.base, "CFItems", item_id)
        self.items.append(
            {
                "identifier": str(item_id),
                "uri": uri,
                "CFDocumentURI": dict(self.doc_link),
                **fields,
                "CFItemType": item_type,
                "CFItemTypeURI": dict(self.type_links[item_type]),
                "lastChangeDateTime": self.when,
            }
        )
        return {"title": fields["humanCodingScheme"], "identifier": str(item_id), "uri": uri}

    def add_child_of(self, origin: dict[str, str], destination: dict[str, str], seq: int) -> None:
        assoc_id = association_id(origin["identifier"], destination["identifier"])
        self.associations.append(
            {
                "identifier": str(assoc_id),
                "associationType": "isChildOf",
                "sequenceNumber": seq,
                "uri": case_uri(self.base, "CFAssociations", assoc_id),
                # Copies: callers may edit the package, so no dict is shared.
                "originNodeURI": dict(origin),
                "destinationNodeURI": dict(destination),
                "CFDocumentURI": dict(self.doc_link),
                "lastChangeDateTime": self.when,
            }
        )


def read_case(data: bytes | str | Mapping[str, Any]) -> Framework:
    """Read a CASE CFPackage; raises FrameworkError listing every problem found."""
    doc = _json.load_document(data)
    if not isinstance(doc, Mapping):
        raise FrameworkError.single(ROOT, f"expected a JSON object, got {type_name(doc)}")
    errors = ErrorList()
    _json.check_json_value(errors, doc, ROOT)

    document = _required(errors, doc, "CFDocument", Mapping, "an object")
    items = _required(errors, doc, "CFItems", list, "a list")
    associations = _required(errors, doc, "CFAssociations", list, "a list")
    document = document if document is not None else {}
    doc_identifier = _json.require_text(errors, document, "identifier", "CFDocument")
    title = _json.require_text(errors, document, "title", "CFDocument")
    hint = _read_hint(errors, document)

    by_identifier, level_indexes = _index_items(errors, items) if items is not None else ({}, set())
    parents, children = _link(
        errors, associations or [], doc_identifier, by_identifier, level_indexes
    )

    levels = []
    keys: dict[str, int] = {}
    for idx in sorted(level_indexes, key=lambda i: _order(parents.get(i, [(None, -1)])[0])):
        if idx not in parents:
            errors.add(
                index("CFItems", idx), "level has no isChildOf association to the CFDocument"
            )
            continue
        level = _read_level(
            errors, items or [], idx, children.get(idx, []), keys, hinted=hint is not None
        )
        if level is not None:
            levels.append(level)

    identifier, version, description, context_covered, extra = _document_fields(
        errors, document, hint, doc_identifier
    )
    errors.raise_if_any()
    assert identifier is not None and version is not None and title is not None
    return Framework.create(
        identifier,
        version,
        title,
        levels,
        description=description,
        context_covered=context_covered,
        extra=extra,
    )


def _read_level(
    errors: ErrorList,
    items: list[Any],
    idx: int,
    members: list[Member],
    keys: dict[str, int],
    *,
    hinted: bool,
) -> LevelSpec | None:
    """(key, label, statement texts) of the Level item at ``idx``; None when it has errors."""
    ipath = index("CFItems", idx)
    item = items[idx]
    label = _json.require_text(errors, item, "fullStatement", ipath)
    key = _level_key(errors, item, ipath, label, keys, hinted=hinted)
    texts: list[str] = []
    complete = True  # every member has its statement text
    if not members:
        errors.add(
            ipath, "expected at least one statement (an isChildOf association to this level)"
        )
    for _seq, _assoc, member in sorted(members, key=_order):
        mpath = index("CFItems", member)
        text = _json.require_text(errors, items[member], "fullStatement", mpath)
        if text is None:
            complete = False
        else:
            texts.append(text)
    if key is not None and label is not None and texts and complete:
        return key, label, texts
    return None


def _timestamp(changed: datetime | None, extra: Mapping[str, Any]) -> str:
    if changed is not None:
        if changed.tzinfo is None:
            raise ValueError("changed must be timezone-aware")
        moment = changed
    else:
        moment = datetime.now(UTC)
        exported = extra.get("exportedAt")
        if isinstance(exported, str):
            try:
                parsed = datetime.fromisoformat(exported)
            except ValueError:
                parsed = None
            if parsed is not None and parsed.tzinfo is not None:
                moment = parsed
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _required(
    errors: ErrorList, doc: Mapping[str, Any], key: str, kind: type, described: str
) -> Any:
    if key not in doc:
        errors.add(key, "required key is missing")
        return None
    value = doc[key]
    if not isinstance(value, kind):
        errors.add(key, f"expected {described}, got {type_name(value)}")
        return None
    return value


def _item_type(item: Mapping[str, Any]) -> str | None:
    declared = item.get("CFItemType")
    if isinstance(declared, str):
        return declared
    link = item.get("CFItemTypeURI")
    if isinstance(link, Mapping):
        title = link.get("title")
        if isinstance(title, str):
            return title
    return None


def _index_items(errors: ErrorList, items: list[Any]) -> tuple[dict[str, int], set[int]]:
    """identifier -> position in CFItems, and the positions of Level items."""
    by_identifier: dict[str, int] = {}
    level_indexes: set[int] = set()
    for i, item in enumerate(items):
        ipath = index("CFItems", i)
        if not isinstance(item, Mapping):
            errors.add(ipath, f"expected an object, got {type_name(item)}")
            continue
        identifier = _json.require_text(errors, item, "identifier", ipath)
        if identifier is not None:
            if identifier in by_identifier:
                errors.add(
                    child(ipath, "identifier"),
                    f"duplicate identifier {json.dumps(identifier)} "
                    f"(also CFItems[{by_identifier[identifier]}])",
                )
            else:
                by_identifier[identifier] = i
        for key in ("fullStatement", "CFItemType", "humanCodingScheme"):
            if key in item and not isinstance(item[key], str):
                errors.add(child(ipath, key), f"expected a string, got {type_name(item[key])}")
        item_type = _item_type(item)
        if item_type is not None and item_type.casefold() == LEVEL_TYPE.casefold():
            level_indexes.add(i)
    if not level_indexes:
        errors.add("CFItems", f'expected at least one CFItem with CFItemType "{LEVEL_TYPE}"')
    return by_identifier, level_indexes


Member = tuple[int | None, int, int]  # (sequenceNumber, association index, item index)


def _link(
    errors: ErrorList,
    associations: list[Any],
    doc_identifier: str | None,
    by_identifier: dict[str, int],
    level_indexes: set[int],
) -> tuple[dict[int, list[Member]], dict[int, list[Member]]]:
    """Walk isChildOf associations: level -> document links, and level -> children."""
    parents: dict[int, list[Member]] = {}
    children: dict[int, list[Member]] = {}
    linked: set[tuple[int | None, int]] = set()  # (level, child) pairs already seen
    for j, assoc in enumerate(associations):
        apath = index("CFAssociations", j)
        if not isinstance(assoc, Mapping):
            errors.add(apath, f"expected an object, got {type_name(assoc)}")
            continue
        kind = _json.require_text(errors, assoc, "associationType", apath)
        if kind != "isChildOf":
            continue
        origin = _node(errors, assoc, "originNodeURI", apath)
        destination = _node(errors, assoc, "destinationNodeURI", apath)
        seq = assoc.get("sequenceNumber")
        if seq is not None and (isinstance(seq, bool) or not isinstance(seq, int)):
            errors.add(child(apath, "sequenceNumber"), f"expected an integer, got {type_name(seq)}")
            seq = None
        if origin is None or destination is None:
            continue
        origin_idx = by_identifier.get(origin)
        destination_idx = by_identifier.get(destination)
        origin_path = child(child(apath, "originNodeURI"), "identifier")
        if destination == doc_identifier or destination_idx in level_indexes:
            if origin_idx is None:
                errors.add(origin_path, f"no CFItem has identifier {json.dumps(origin)}")
            elif destination == doc_identifier:
                if origin_idx in level_indexes:
                    if origin_idx in parents:
                        errors.add(apath, "this level is already a child of the CFDocument")
                    else:
                        parents[origin_idx] = [(seq, j, origin_idx)]
            else:
                siblings = children.setdefault(destination_idx, [])  # type: ignore[arg-type]
                pair = (destination_idx, origin_idx)
                if pair in linked:
                    errors.add(apath, "this item is already a child of that level")
                else:
                    linked.add(pair)
                    siblings.append((seq, j, origin_idx))
        elif destination_idx is None and origin_idx is not None:
            errors.add(
                child(child(apath, "destinationNodeURI"), "identifier"),
                f"no CFDocument or CFItem has identifier {json.dumps(destination)}",
            )
    return parents, children


def _node(errors: ErrorList, assoc: Mapping[str, Any], key: str, apath: str) -> str | None:
    path = child(apath, key)
    if key not in assoc:
        errors.add(path, "required key is missing")
        return None
    node = assoc[key]
    if not isinstance(node, Mapping):
        errors.add(path, f"expected an object, got {type_name(node)}")
        return None
    return _json.require_text(errors, node, "identifier", path)


def _order(member: tuple[int | None, int] | Member) -> tuple[bool, int, int]:
    # By sequenceNumber; unnumbered ones after, in association order.
    seq, assoc_index = member[0], member[1]
    return (seq is None, seq if seq is not None else 0, assoc_index)


def _slug(text: str) -> str:
    return re.sub(r"[\W_]+", "-", text.casefold()).strip("-") or "level"


def _level_key(
    errors: ErrorList,
    item: Mapping[str, Any],
    ipath: str,
    label: str | None,
    keys: dict[str, int],
    *,
    hinted: bool,
) -> str | None:
    code = item.get("humanCodingScheme")
    path = child(ipath, "humanCodingScheme")
    if isinstance(code, str) and code.strip():
        if code in keys:
            errors.add(path, f"duplicate level key {json.dumps(code, ensure_ascii=False)}")
            return None
        keys[code] = 1
        return code
    if hinted:  # our own export always codes its levels with their key
        errors.add(path, "required key is missing (it holds the level key)")
        return None
    if label is None:
        return None
    base = _slug(label)
    key, n = base, 2
    while key in keys:
        key, n = f"{base}-{n}", n + 1
    keys[key] = 1
    return key


def _read_hint(errors: ErrorList, document: Mapping[str, Any]) -> dict[str, Any] | None:
    """The skillsign note in CFDocument.notes, or None for a third-party package."""
    notes = document.get("notes")
    if not isinstance(notes, str) or not notes.lstrip().startswith("{"):
        return None
    try:
        parsed = json.loads(notes)
    except ValueError:
        return None
    if not isinstance(parsed, dict) or HINT_KEY not in parsed:
        return None
    path = f"CFDocument.notes.{HINT_KEY}"
    hint = parsed[HINT_KEY]
    if not isinstance(hint, dict):
        errors.add(path, f"expected an object, got {type_name(hint)}")
        return {}
    identifier_problem = (
        _json.single_line_problem(hint["identifier"])
        if "identifier" in hint
        else "required key is missing"
    )
    if identifier_problem:
        errors.add(child(path, "identifier"), identifier_problem)
    for key in ("description", "contextCovered"):
        problem = _json.text_problem(hint.get(key, ""), allow_blank=True)
        if problem:
            errors.add(child(path, key), problem)
    extra = hint.get("extra", {})
    if not isinstance(extra, dict):
        errors.add(child(path, "extra"), f"expected an object, got {type_name(extra)}")
    else:
        _json.check_json_value(errors, extra, child(path, "extra"))
        if identifier_problem is None:
            # Whatever we import must also export to the seed's format.
            for conflict in extra_conflicts(hint["identifier"], extra):
                errors.add(f"{path}.extra.{conflict.path}", conflict.message)
    return hint


def _document_fields(
    errors: ErrorList,
    document: Mapping[str, Any],
    hint: dict[str, Any] | None,
    doc_identifier: str | None,
) -> tuple[str | None, str | None, str, str, dict[str, Any]]:
    """(identifier, version, description, context covered, extra)."""
    if hint is not None:
        identifier = hint.get("identifier")
        extra = hint.get("extra", {})
        version = None
        problem = _json.single_line_problem(document.get("version"))
        if problem:
            errors.add("CFDocument.version", problem)
        else:
            version = document["version"]
        return (
            identifier,
            version,
            hint.get("description", ""),
            hint.get("contextCovered", ""),
            dict(extra) if isinstance(extra, dict) else {},
        )

    identifier = None
    uri = document.get("uri")
    if isinstance(uri, str) and uri.strip():
        problem = _json.single_line_problem(uri)
        if problem:
            errors.add("CFDocument.uri", problem)
        else:
            identifier = uri
    elif doc_identifier is not None:
        problem = _json.single_line_problem(doc_identifier)
        if problem:
            errors.add("CFDocument.identifier", problem)
        else:
            identifier = doc_identifier

    version = None
    for key in ("version", "lastChangeDateTime"):
        value = document.get(key)
        if isinstance(value, str) and value.strip():
            problem = _json.single_line_problem(value)
            if problem:
                errors.add(child("CFDocument", key), problem)
            else:
                version = value
            break
    else:
        errors.add("CFDocument.version", "required key is missing (or give lastChangeDateTime)")

    description = document.get("description", "")
    if not isinstance(description, str):
        errors.add("CFDocument.description", f"expected a string, got {type_name(description)}")
        description = ""
    return identifier, version, description, "", {"caseDocument": dict(document)}
