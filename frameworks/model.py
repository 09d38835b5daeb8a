"""The framework model: a framework has ordered levels, a level has ordered
statements. Everything is immutable and every id is derived (uuid5) from the
framework identity, its version, the level key and the statement position, so
importing the same framework twice gives the same ids (docs/architecture.md §6)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import _json
from .errors import ErrorList

NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://skillsign.dev/ns/frameworks")

# Statements read "Competency — performance description".
SEPARATOR = " \u2014 "


def split_statement(text: str) -> tuple[str, str | None]:
    """Split on the first " — "; without a separator the whole text is the competency."""
    competency, separator, performance = text.partition(SEPARATOR)
    if not separator:
        return text, None
    return competency, performance


def framework_id(framework_identifier: str, version: str) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"{framework_identifier}\n{version}")


def level_id(framework_identifier: str, version: str, level_key: str) -> uuid.UUID:
    # Identifier and version are single-line, so the newline-joined name is unambiguous;
    # the "level"/"statement" prefixes keep the three kinds of id apart.
    return uuid.uuid5(NAMESPACE, f"level\n{framework_identifier}\n{version}\n{level_key}")


def statement_id(
    framework_identifier: str, version: str, level_key: str, position: int
) -> uuid.UUID:
    return uuid.uuid5(
        NAMESPACE, f"statement\n{framework_identifier}\n{version}\n{level_key}\n{position}"
    )


@dataclass(frozen=True, slots=True)
class Statement:
    id: uuid.UUID
    level_key: str
    position: int  # 1-based within its level
    text: str
    competency: str = field(init=False)
    performance: str | None = field(init=False)

    def __post_init__(self) -> None:
        competency, performance = split_statement(self.text)
        object.__setattr__(self, "competency", competency)
        object.__setattr__(self, "performance", performance)


@dataclass(frozen=True, slots=True)
class Level:
    id: uuid.UUID
    key: str
    label: str
    statements: tuple[Statement, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "statements", tuple(self.statements))


LevelSpec = tuple[str, str, Iterable[str]]


@dataclass(frozen=True, slots=True)
class Framework:
    identifier: str  # stable across versions, e.g. "onet-soc:29-2053.00"
    version: str
    title: str
    description: str
    context_covered: str
    levels: tuple[Level, ...]
    # Whatever else the source carried, so writers lose nothing. Deep-frozen.
    extra: Mapping[str, Any] = field(default_factory=dict)
    _by_id: dict[uuid.UUID, Statement] = field(init=False, repr=False, compare=False)
    _all: tuple[Statement, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "levels", tuple(self.levels))
        _validate(self)
        object.__setattr__(self, "extra", _json.freeze(self.extra))
        everything = tuple(s for level in self.levels for s in level.statements)
        object.__setattr__(self, "_all", everything)
        object.__setattr__(self, "_by_id", {s.id: s for s in everything})

    def __hash__(self) -> int:
        # Equal frameworks share identifier and version; extra is unhashable.
        return hash((self.identifier, self.version))

    @classmethod
    def create(
        cls,
        identifier: str,
        version: str,
        title: str,
        levels: Iterable[LevelSpec],
        *,
        description: str = "",
        context_covered: str = "",
        extra: Mapping[str, Any] | None = None,
    ) -> Framework:
        """Build a framework from plain data, deriving every id.

        `levels` is an iterable of (key, label, statement texts), in order.
        Raises FrameworkError listing every problem.
        """
        built = []
        for key, label, texts in levels:
            statements = tuple(
                Statement(statement_id(identifier, version, key, n), key, n, text)
                for n, text in enumerate(texts, start=1)
            )
            built.append(Level(level_id(identifier, version, key), key, label, statements))
        return cls(
            identifier=identifier,
            version=version,
            title=title,
            description=description,
            context_covered=context_covered,
            levels=tuple(built),
            extra=dict(extra or {}),
        )

    @property
    def id(self) -> uuid.UUID:
        return framework_id(self.identifier, self.version)

    @property
    def statements(self) -> tuple[Statement, ...]:
        """Every statement, level by level, in order."""
        return self._all

    def level(self, key: str) -> Level:
        for level in self.levels:
            if level.key == key:
                return level
        known = ", ".join(repr(level.key) for level in self.levels)
        raise KeyError(
            f"framework {self.identifier!r} version {self.version!r} has no level {key!r} "
            f"(levels: {known})"
        )

    def statement(self, statement_id: uuid.UUID | str) -> Statement:
        wanted = statement_id if isinstance(statement_id, uuid.UUID) else uuid.UUID(statement_id)
        try:
            return self._by_id[wanted]
        except KeyError:
            raise KeyError(
                f"framework {self.identifier!r} version {self.version!r} has no statement {wanted}"
            ) from None


def _validate(fw: Framework) -> None:
    """Invariants every Framework holds, whichever way it was built."""
    errors = ErrorList()
    for name in ("identifier", "version"):
        problem = _json.single_line_problem(getattr(fw, name))
        if problem:
            errors.add(name, problem)
    for name, blank in (("title", False), ("description", True), ("context_covered", True)):
        problem = _json.text_problem(getattr(fw, name), allow_blank=blank)
        if problem:
            errors.add(name, problem)
    if isinstance(fw.extra, Mapping):
        _json.check_json_value(errors, fw.extra, "extra")
    else:
        errors.add("extra", f"expected a mapping, got {_json.type_name(fw.extra)}")
    if not fw.levels:
        errors.add("levels", "expected at least one level")
    ids_derivable = not errors
    stale: list[str] = []  # paths of ids that were not derived from identity + position
    seen: set[str] = set()
    for i, level in enumerate(fw.levels):
        path = f"levels[{i}]"
        if not isinstance(level, Level):
            errors.add(path, f"expected a Level, got {_json.type_name(level)}")
            continue
        key_problem = _json.text_problem(level.key)
        if key_problem:
            errors.add(f"{path}.key", key_problem)
        elif level.key in seen:
            errors.add(f"{path}.key", f"duplicate level key {level.key!r}")
        seen.add(level.key)
        problem = _json.text_problem(level.label)
        if problem:
            errors.add(f"{path}.label", problem)
        if not level.statements:
            errors.add(f"{path}.statements", "expected at least one statement")
        derivable = ids_derivable and key_problem is None
        if derivable and level.id != level_id(fw.identifier, fw.version, level.key):
            stale.append(f"{path}.id")
        for n, statement in enumerate(level.statements, start=1):
            spath = f"{path}.statements[{n - 1}]"
            if not isinstance(statement, Statement):
                errors.add(spath, f"expected a Statement, got {_json.type_name(statement)}")
                continue
            problem = _json.text_problem(statement.text)
            if problem:
                errors.add(f"{spath}.text", problem)
            if statement.level_key != level.key or statement.position != n:
                errors.add(spath, f"expected level_key {level.key!r} and position {n}")
            elif derivable and statement.id != statement_id(
                fw.identifier, fw.version, level.key, n
            ):
                stale.append(f"{spath}.id")
    if stale:
        errors.add(
            stale[0],
            f"does not match the id derived from identifier, version, key and position "
            f"({len(stale)} ids differ; build frameworks with Framework.create)",
        )
    errors.raise_if_any()
