"""Load a framework from a file, JSON text or a parsed mapping, whatever its format."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeGuard

from . import _json
from ._json import ROOT, type_name
from .case import read_case
from .errors import FrameworkError
from .ler import read_ler
from .model import Framework

DATA_DIR = Path(__file__).resolve().parent / "data"


def detect_format(data: Mapping[str, Any]) -> Literal["ler", "case"]:
    """Return "case" for a CFPackage, "ler" for the seed's format; FrameworkError otherwise."""
    if not isinstance(data, Mapping):
        raise FrameworkError.single(ROOT, f"expected a JSON object, got {type_name(data)}")
    if "CFDocument" in data:
        return "case"
    if "framework" in data or "schemaVersion" in data:
        return "ler"
    raise FrameworkError.single(
        ROOT,
        "unrecognised framework format: expected a skills-framework document "
        '("schemaVersion", "framework") or a CASE CFPackage ("CFDocument", "CFItems")',
    )


def load(source: str | os.PathLike[str] | bytes | Mapping[str, Any]) -> Framework:
    """Read a framework from a path, JSON bytes, JSON text or a parsed mapping.

    A str is JSON text when it starts with "{" or "[" (after whitespace), else a path.
    """
    if isinstance(source, Mapping):
        data: Any = source
    elif isinstance(source, bytes | bytearray) or _looks_like_json(source):
        data = _json.parse(source)
    elif isinstance(source, str | os.PathLike):
        data = _json.parse(_read_file(Path(source)))
    else:
        raise FrameworkError.single(
            ROOT, f"expected a path, JSON text, bytes or a mapping, got {type(source).__name__}"
        )
    reader = read_case if detect_format(data) == "case" else read_ler
    return reader(data)


def bundled_paths() -> list[Path]:
    """The framework files shipped in frameworks/data/, sorted by name."""
    return sorted(DATA_DIR.glob("*.json"))


def _looks_like_json(source: object) -> TypeGuard[str]:
    return isinstance(source, str) and source.lstrip()[:1] in ("{", "[")


def _read_file(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise FrameworkError.single(ROOT, f"file not found: {path}") from None
    except IsADirectoryError:
        raise FrameworkError.single(ROOT, f"is a directory, not a file: {path}") from None
    except OSError as exc:
        raise FrameworkError.single(ROOT, f"cannot read {path}: {exc.strerror}") from None
