"""Errors raised by the framework readers.

Readers collect every problem they can find before raising, so an upload page
can list them all at once, each with the JSON path of the offending field.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem at one place in a document (`path` is a dotted JSON path)."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


class FrameworkError(ValueError):
    """A framework document could not be read; `errors` lists every problem found."""

    errors: tuple[FieldError, ...]

    def __init__(self, errors: Iterable[FieldError]) -> None:
        self.errors = tuple(errors)
        if not self.errors:
            raise ValueError("FrameworkError needs at least one FieldError")
        super().__init__(str(self))

    def __str__(self) -> str:
        return "\n".join(str(error) for error in self.errors)

    @classmethod
    def single(cls, path: str, message: str) -> FrameworkError:
        return cls([FieldError(path, message)])


class ErrorList:
    """Collects FieldErrors while a reader walks a document."""

    def __init__(self) -> None:
        self._errors: list[FieldError] = []
        self._seen: set[FieldError] = set()

    def add(self, path: str, message: str) -> None:
        error = FieldError(path, message)
        if error not in self._seen:  # two checks may spot the same problem
            self._seen.add(error)
            self._errors.append(error)

    def __bool__(self) -> bool:
        return bool(self._errors)

    def __len__(self) -> int:
        return len(self._errors)

    def raise_if_any(self) -> None:
        if self._errors:
            raise FrameworkError(self._errors)
