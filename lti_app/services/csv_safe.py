"""CSV a spreadsheet cannot turn into code (OWASP "CSV Injection").

Spreadsheets run a cell starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return as a
formula, and some split a cell again on ``,`` or ``;``, so the same characters right after
one of those separators are just as dangerous. Names in our exports come from the LMS, i.e.
from anyone who can edit a profile, so every such segment gets a leading ``'`` (shown by no
spreadsheet, read as "this is text"). A segment already starting with ``'`` gets one too:
then every added quote sits at a segment start, and :func:`restore` removes exactly those.
Writers use ``csv.QUOTE_ALL``, which also doubles embedded double quotes.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from typing import Any

TRIGGERS = frozenset("=+-@\t\r")
SEPARATORS = ",;"
# A segment start (the cell's start, or right after , or ;) followed by a trigger or a quote.
_DANGEROUS_START = re.compile(r"(^|[,;])(?=[=+\-@\t\r'])")
_ADDED_QUOTE = re.compile(r"(^|[,;])'")


def neutralise(value: object) -> str:
    """The cell text for ``value``: every segment that could start a formula made text."""
    text = "" if value is None else str(value)
    return _DANGEROUS_START.sub(r"\1'", text)


def restore(cell: str) -> str:
    """The original text of a :func:`neutralise` d cell."""
    return _ADDED_QUOTE.sub(r"\1", cell)


def writer(stream: Any) -> Any:
    """A CSV writer that quotes every field (the one our exports use)."""
    return csv.writer(stream, lineterminator="\r\n", quoting=csv.QUOTE_ALL)


def row(values: Iterable[object]) -> list[str]:
    return [neutralise(v) for v in values]
