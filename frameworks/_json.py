"""JSON helpers shared by the readers: parsing with duplicate-key detection,
path formatting, type names, text checks and deep freezing of extra data."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

from .errors import ErrorList, FrameworkError

ROOT = "$"
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


class _Object(dict[str, Any]):
    """A parsed JSON object that remembers keys which appeared more than once
    (a plain dict silently keeps the last one)."""

    __slots__ = ("duplicates",)

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        super().__init__()
        self.duplicates: list[str] = []
        for key, value in pairs:
            if key in self and key not in self.duplicates:
                self.duplicates.append(key)
            self[key] = value


def _reject_constant(name: str) -> Any:
    # NaN and Infinity are not JSON and would break equality of parsed frameworks.
    raise ValueError(f"{name} is not allowed in JSON")


def parse(data: bytes | bytearray | str) -> Any:
    """Parse JSON text, raising FrameworkError (path "$") with line and column."""
    if isinstance(data, bytes | bytearray):
        try:
            text = bytes(data).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise FrameworkError.single(
                ROOT, f"not UTF-8 text (invalid byte at offset {exc.start})"
            ) from exc
    else:
        text = data.removeprefix("\ufeff")
    try:
        return json.loads(text, object_pairs_hook=_Object, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise FrameworkError.single(
            ROOT, f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc
    except ValueError as exc:  # from _reject_constant
        raise FrameworkError.single(ROOT, f"invalid JSON: {exc}") from exc
    except RecursionError:
        raise FrameworkError.single(ROOT, "invalid JSON: nested too deeply") from None


def load_document(data: bytes | bytearray | str | Mapping[str, Any]) -> Any:
    """Accept JSON text/bytes or an already parsed mapping."""
    if isinstance(data, bytes | bytearray | str):
        return parse(data)
    if isinstance(data, Mapping):
        return data
    raise FrameworkError.single(
        ROOT, f"expected JSON text, bytes or a mapping, got {type(data).__name__}"
    )


def child(path: str, key: str) -> str:
    """Path of `key` under `path`, in the dotted style: framework.levels.emerging."""
    part = key if _PLAIN_KEY.fullmatch(key) else None
    if part is None:
        return f"{'' if path == ROOT else path}[{json.dumps(key, ensure_ascii=False)}]"
    return part if path == ROOT else f"{path}.{part}"


def index(path: str, i: int) -> str:
    return f"{'' if path == ROOT else path}[{i}]"


def type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    return f"a {type(value).__name__}"


def text_problem(value: object, *, allow_blank: bool = False) -> str | None:
    """Why `value` is not acceptable text, or None. Text is kept exactly as given."""
    if not isinstance(value, str):
        return f"expected a string, got {type_name(value)}"
    if not allow_blank and not value.strip():
        return "expected a non-empty string" if not value else "expected text, got only whitespace"
    return string_problem(value)


def string_problem(value: str) -> str | None:
    # Databases (PostgreSQL text/jsonb) refuse NUL, and a lone surrogate cannot be
    # encoded as UTF-8: reject both here rather than fail later, far from the upload.
    if "\x00" in value:
        return "contains a NUL character (U+0000)"
    if value.isascii():
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "contains an unpaired surrogate (not valid Unicode text)"
    return None


def single_line_problem(value: object) -> str | None:
    problem = text_problem(value)
    if problem is None and isinstance(value, str) and ("\n" in value or "\r" in value):
        return "must be a single line"
    return problem


def require_text(
    errors: ErrorList, container: Mapping[str, Any], key: str, path: str
) -> str | None:
    """Check container[key] is non-blank text; report and return None otherwise."""
    if key not in container:
        errors.add(child(path, key), "required key is missing")
        return None
    value = container[key]
    problem = text_problem(value)
    if problem:
        errors.add(child(path, key), problem)
        return None
    return cast(str, value)  # text_problem() passes nothing but a str


DuplicateMessage = Callable[[str, str], str]


def _duplicate(path: str, key: str) -> str:
    return f"duplicate key {json.dumps(key, ensure_ascii=False)}"


def check_json_value(
    errors: ErrorList,
    value: Any,
    path: str,
    *,
    duplicate_message: DuplicateMessage = _duplicate,
) -> None:
    """Report, in one pass, keys that appeared twice in the parsed text and anything
    that would not survive a JSON (and database) round trip."""
    try:
        _scan(errors, value, path, (), duplicate_message)
    except RecursionError:
        errors.add(path, "nested too deeply")


def _path(base: str, parts: tuple[str | int, ...]) -> str:
    for part in parts:
        base = index(base, part) if isinstance(part, int) else child(base, part)
    return base


def _scan(
    errors: ErrorList,
    value: Any,
    base: str,
    parts: tuple[str | int, ...],
    duplicate_message: DuplicateMessage,
) -> None:
    # Paths are only formatted when something is wrong: documents can be large.
    if isinstance(value, str):
        problem = string_problem(value)
        if problem:
            errors.add(_path(base, parts), problem)
    elif value is None or isinstance(value, bool | int):
        return
    elif isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            errors.add(_path(base, parts), "NaN and Infinity are not JSON numbers")
    elif isinstance(value, Mapping):
        for key in getattr(value, "duplicates", ()):
            here = _path(base, parts)
            errors.add(here, duplicate_message(here, key))
        for key, item in value.items():
            if not isinstance(key, str):
                errors.add(_path(base, parts), f"object keys must be strings, got {type_name(key)}")
                continue
            problem = string_problem(key)
            if problem:
                errors.add(_path(base, (*parts, key)), f"key {problem}")
            # Most values are plain strings: check them here rather than recurse.
            if type(item) is str and item.isascii() and "\x00" not in item:
                continue
            _scan(errors, item, base, (*parts, key), duplicate_message)
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            if type(item) is str and item.isascii() and "\x00" not in item:
                continue
            _scan(errors, item, base, (*parts, i), duplicate_message)
    else:
        errors.add(_path(base, parts), f"expected a JSON value, got {type_name(value)}")


class FrozenDict(dict[str, Any]):
    """A read-only dict. Unlike MappingProxyType it still pickles, deep-copies,
    goes through dataclasses.asdict and json.dumps, and equals a plain dict."""

    __slots__ = ()

    def _read_only(self, *args: object, **kwargs: object) -> None:
        raise TypeError("this mapping is read-only")

    __setitem__ = __delitem__ = __ior__ = _read_only  # type: ignore[assignment]
    clear = pop = popitem = setdefault = update = _read_only  # type: ignore[assignment]

    def __reduce__(self) -> tuple[type, tuple[dict[str, Any]]]:
        return (FrozenDict, (dict(self),))

    def __copy__(self) -> FrozenDict:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> FrozenDict:
        return self


def freeze(value: Any) -> Any:
    """Deep, read-only copy: mappings become FrozenDict, lists tuples."""
    if isinstance(value, Mapping):
        return FrozenDict({key: freeze(item) for key, item in value.items()})
    if isinstance(value, list | tuple):
        return tuple(freeze(item) for item in value)
    return value


def thaw(value: Any) -> Any:
    """Plain JSON-ready copy of a frozen value (dicts and lists)."""
    if isinstance(value, Mapping):
        return {key: thaw(item) for key, item in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, str):
        return [thaw(item) for item in value]
    return value
