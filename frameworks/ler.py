"""The seed's skills-framework JSON (schemaVersion "1.0").

    {"schemaVersion": "1.0", "exportedAt": ..., "occupation": {"soc", "title", ...},
     "framework": {"version", "description", "contextCovered",
                   "levels": {key: {"label", "statements": [...]}}},
     "sources": ..., "attribution": ...}

Level keys and counts vary; level order is the order in the file. Everything the
model has no field for is kept in Framework.extra so write_ler gives it back.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, cast

from . import _json
from ._json import ROOT, child, index, type_name
from .errors import ErrorList, FieldError, FrameworkError
from .model import Framework

SCHEMA_VERSION = "1.0"
SOC_PREFIX = "onet-soc:"

# Keys of "framework" that the model holds; any other key is kept in extra["framework"].
_FRAMEWORK_FIELDS = ("version", "title", "description", "contextCovered", "levels")
_LEVEL_FIELDS = ("label", "statements")
# Top-level keys the format puts before "framework" (so a written file reads like the seed).
_HEADER_KEYS = frozenset({"identifier", "id", "exportedAt", "occupation"})
_LEVELS_PATH = "framework.levels"


def read_ler(data: bytes | str | Mapping[str, Any]) -> Framework:
    """Read a skills-framework document; raises FrameworkError listing every problem.

    identifier: "onet-soc:" + occupation.soc, else the top-level "identifier" (or "id").
    title: framework.title, else occupation.title.
    """
    doc = _json.load_document(data)
    if not isinstance(doc, Mapping):
        raise FrameworkError.single(ROOT, f"expected a JSON object, got {type_name(doc)}")
    errors = ErrorList()
    _json.check_json_value(errors, doc, ROOT, duplicate_message=_duplicate_message)

    _check_schema_version(errors, doc)
    raw_fw = doc.get("framework")
    fw_ok = isinstance(raw_fw, Mapping)
    if "framework" not in doc:
        errors.add("framework", "required key is missing")
    elif not fw_ok:
        errors.add("framework", f"expected an object, got {type_name(raw_fw)}")
    fw_obj: Mapping[str, Any] = raw_fw if isinstance(raw_fw, Mapping) else {}

    version = _single_line(errors, fw_obj, "version", "framework") if fw_ok else None
    description = _optional_text(errors, fw_obj, "description", "framework")
    context_covered = _optional_text(errors, fw_obj, "contextCovered", "framework")
    levels = _read_levels(errors, fw_obj) if fw_ok else []

    occupation = doc.get("occupation")
    if "occupation" in doc and not isinstance(occupation, Mapping):
        errors.add("occupation", f"expected an object, got {type_name(occupation)}")
        occupation = None
    occupation = occupation or {}
    identifier, identifier_key = _read_identifier(errors, doc, occupation)
    title = _read_title(errors, fw_obj, occupation) if fw_ok else None

    errors.raise_if_any()
    extra: dict[str, Any] = {}
    for key, value in doc.items():
        if key in ("schemaVersion", identifier_key):
            continue
        if key == "framework":
            leftovers = {k: v for k, v in value.items() if k not in _FRAMEWORK_FIELDS}
            if leftovers:
                extra[key] = leftovers
            continue
        extra[key] = value
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


def write_ler(fw: Framework) -> dict[str, Any]:
    """The framework as a skills-framework document (a JSON-ready dict).

    Lossless: read_ler(write_ler(fw)) == fw. Raises ValueError when fw.extra holds
    something that would contradict the model (see extra_conflicts), since the
    written file could not read back as the same framework.
    """
    problems = extra_conflicts(fw.identifier, fw.extra)
    if problems:
        raise ValueError(
            "extra cannot be written as a skills-framework document: "
            + "; ".join(f"extra.{p}" for p in map(str, problems))
        )
    extra = _json.thaw(fw.extra)
    occupation = extra.get("occupation", {})
    out: dict[str, Any] = {"schemaVersion": SCHEMA_VERSION}
    if "soc" not in occupation:
        out["identifier"] = fw.identifier
    leftovers = extra.get("framework", {})
    framework: dict[str, Any] = {"version": fw.version}
    if occupation.get("title") != fw.title:
        framework["title"] = fw.title
    framework["description"] = fw.description
    framework["contextCovered"] = fw.context_covered
    framework["levels"] = {
        level.key: {"label": level.label, "statements": [s.text for s in level.statements]}
        for level in fw.levels
    }
    framework.update(leftovers)

    # "framework" goes where the source had it (kept in extra when it had extra keys),
    # else after the header keys, as in the seed.
    placed = False
    for key, value in extra.items():
        if key == "framework" or (
            not placed and "framework" not in extra and key not in _HEADER_KEYS
        ):
            out["framework"] = framework
            placed = True
        if key != "framework":
            out[key] = value
    if not placed:
        out["framework"] = framework
    return out


def extra_conflicts(identifier: str, extra: Mapping[str, Any]) -> list[FieldError]:
    """What in `extra` would make a written document read back differently
    (paths relative to extra). Empty for anything read_ler produced."""
    problems: list[FieldError] = []
    if "schemaVersion" in extra:
        problems.append(FieldError("schemaVersion", "is set by the writer"))
    occupation = extra.get("occupation", {})
    if not isinstance(occupation, Mapping):
        problems.append(
            FieldError("occupation", f"expected an object, got {type_name(occupation)}")
        )
    elif "soc" in occupation:
        soc = occupation["soc"]
        problem = _json.single_line_problem(soc)
        if problem:
            problems.append(FieldError("occupation.soc", problem))
        elif SOC_PREFIX + soc != identifier:
            problems.append(
                FieldError(
                    "occupation.soc",
                    f"names the identifier {json.dumps(SOC_PREFIX + soc)}, "
                    f"not {json.dumps(identifier)}",
                )
            )
    elif "identifier" in extra:
        problems.append(FieldError("identifier", "would be read as the framework identifier"))
    leftovers = extra.get("framework", {})
    if not isinstance(leftovers, Mapping):
        problems.append(FieldError("framework", f"expected an object, got {type_name(leftovers)}"))
    else:
        problems.extend(
            FieldError(child("framework", key), "is held by the model")
            for key in leftovers
            if key in _FRAMEWORK_FIELDS
        )
    return problems


def _duplicate_message(path: str, key: str) -> str:
    what = "level key" if path == _LEVELS_PATH else "key"
    return f"duplicate {what} {json.dumps(key, ensure_ascii=False)}"


def _check_schema_version(errors: ErrorList, doc: Mapping[str, Any]) -> None:
    if "schemaVersion" not in doc:
        errors.add("schemaVersion", "required key is missing")
        return
    value = doc["schemaVersion"]
    if not isinstance(value, str):
        errors.add("schemaVersion", f"expected a string, got {type_name(value)}")
    elif value != SCHEMA_VERSION:
        errors.add(
            "schemaVersion",
            f"unsupported schemaVersion {json.dumps(value)} (supported: {json.dumps(SCHEMA_VERSION)})",
        )


def _single_line(errors: ErrorList, obj: Mapping[str, Any], key: str, path: str) -> str | None:
    if key not in obj:
        errors.add(child(path, key), "required key is missing")
        return None
    value = obj[key]
    problem = _json.single_line_problem(value)
    if problem:
        errors.add(child(path, key), problem)
        return None
    return cast(str, value)  # single_line_problem() passes nothing but a str


def _optional_text(errors: ErrorList, obj: Mapping[str, Any], key: str, path: str) -> str:
    if key not in obj:
        return ""
    value = obj[key]
    problem = _json.text_problem(value, allow_blank=True)
    if problem:
        errors.add(child(path, key), problem)
        return ""
    return cast(str, value)  # text_problem() passes nothing but a str


def _read_levels(errors: ErrorList, fw_obj: Mapping[str, Any]) -> list[tuple[str, str, list[str]]]:
    if "levels" not in fw_obj:
        errors.add(_LEVELS_PATH, "required key is missing")
        return []
    levels_obj = fw_obj["levels"]
    if not isinstance(levels_obj, Mapping):
        errors.add(
            _LEVELS_PATH, f"expected an object of levels by key, got {type_name(levels_obj)}"
        )
        return []
    if not levels_obj:
        errors.add(_LEVELS_PATH, "expected at least one level")
        return []
    levels = []
    for key, level in levels_obj.items():
        if not isinstance(key, str):
            continue  # reported by check_json_value
        path = child(_LEVELS_PATH, key)
        if not key.strip():
            errors.add(path, "expected a non-blank level key")
        if not isinstance(level, Mapping):
            errors.add(
                path, f"expected an object with label and statements, got {type_name(level)}"
            )
            continue
        for unknown in level:
            if unknown not in _LEVEL_FIELDS and isinstance(unknown, str):
                errors.add(
                    child(path, unknown), 'unknown key (a level has "label" and "statements")'
                )
        label = _json.require_text(errors, level, "label", path)
        texts = _read_statements(errors, level, child(path, "statements"))
        if label is not None and texts:
            levels.append((key, label, texts))
    return levels


def _read_statements(errors: ErrorList, level: Mapping[str, Any], path: str) -> list[str]:
    if "statements" not in level:
        errors.add(path, "required key is missing")
        return []
    statements = level["statements"]
    if not isinstance(statements, list | tuple):
        errors.add(path, f"expected a list of strings, got {type_name(statements)}")
        return []
    if not statements:
        errors.add(path, "expected at least one statement")
        return []
    texts = []
    for i, text in enumerate(statements):
        problem = _json.text_problem(text)
        if problem:
            errors.add(index(path, i), problem)
        else:
            texts.append(text)
    return texts if len(texts) == len(statements) else []


def _read_identifier(
    errors: ErrorList, doc: Mapping[str, Any], occupation: Mapping[str, Any]
) -> tuple[str | None, str | None]:
    """(identifier, the top-level key it was taken from or None)."""
    if "soc" in occupation:
        soc = _single_line(errors, occupation, "soc", "occupation")
        return (SOC_PREFIX + soc if soc is not None else None), None
    for key in ("identifier", "id"):
        if key in doc:
            return _single_line(errors, doc, key, ROOT), key
    errors.add(
        ROOT,
        'missing framework identity: expected occupation.soc or a top-level "identifier" (or "id")',
    )
    return None, None


def _read_title(
    errors: ErrorList, fw_obj: Mapping[str, Any], occupation: Mapping[str, Any]
) -> str | None:
    if "title" in fw_obj:
        return _json.require_text(errors, fw_obj, "title", "framework")
    if "title" in occupation:
        return _json.require_text(errors, occupation, "title", "occupation")
    errors.add("framework.title", "required key is missing (or give occupation.title)")
    return None
