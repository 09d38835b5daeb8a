"""What the database holds, cheaply: row counts of every table, and a checksum of every row.

The adversarial tests assert that a refused request left no trace. Counting rows (one
query) after each of thousands of fuzzed requests is cheap; the checksum (every row of
every table, in primary key order) also catches an UPDATE and is taken around a whole run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from sqlalchemy import select, union_all
from sqlalchemy.sql import func, literal

from lti_app.db import Base, Database


def _tables(only: Iterable[str] | None = None) -> list:
    wanted = set(only) if only is not None else None
    return [t for t in Base.metadata.sorted_tables if wanted is None or t.name in wanted]


def table_counts(db: Database, only: Iterable[str] | None = None) -> dict[str, int]:
    """{table: rows} for every table of the schema (or ``only`` those), in one query."""
    tables = _tables(only)
    query = union_all(
        *(
            select(literal(t.name).label("name"), func.count().label("n")).select_from(t)
            for t in tables
        )
    )
    with db.engine.connect() as conn:
        return {name: int(n) for name, n in conn.execute(query)}


def checksum(db: Database, only: Iterable[str] | None = None) -> str:
    """A digest of every row of every table (or ``only`` those), in primary key order."""
    digest = hashlib.sha256()
    with db.engine.connect() as conn:
        for table in _tables(only):
            order = list(table.primary_key.columns) or list(table.columns)
            digest.update(f"\x00{table.name}\x00".encode())
            for row in conn.execute(select(table).order_by(*order)):
                digest.update(repr(tuple(row)).encode("utf-8", "backslashreplace"))
    return digest.hexdigest()


def diff(before: dict[str, int], after: dict[str, int]) -> dict[str, tuple[int, int]]:
    """Tables whose row count changed: {table: (before, after)}."""
    return {
        name: (before.get(name, 0), after.get(name, 0))
        for name in sorted(set(before) | set(after))
        if before.get(name, 0) != after.get(name, 0)
    }
