"""Shared helpers for the CLI modules."""

from __future__ import annotations

import json
from typing import NoReturn

import click


def echo_json(data: object) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def fail(message: str) -> NoReturn:
    """Exit 1 with one clear message on stderr (no traceback)."""
    raise click.ClickException(message)
