"""`skillsign translations ...`: keep the message catalogues in step with the code.

Run from a source checkout (babel.cfg at its root):

* ``update``: extract every message of the templates and the Python code into
  ``lti_app/translations/messages.pot`` and merge it into each language's ``.po``;
* ``compile``: write the ``.mo`` files the app reads (they are committed, so an
  installed copy needs no build step; a test checks they match the ``.po``).
"""

from __future__ import annotations

import os
from importlib import metadata
from pathlib import Path

import click
from babel.messages.frontend import CommandLineInterface

from lti_app.cli.common import fail

PACKAGE = Path(__file__).resolve().parents[1]
ROOT = PACKAGE.parent
TRANSLATIONS = PACKAGE / "translations"
TEMPLATE = TRANSLATIONS / "messages.pot"


def _babel(*args: str) -> None:
    CommandLineInterface().run(["pybabel", "-q", *args])


def _version() -> str:
    try:
        return metadata.version("skillsign")
    except metadata.PackageNotFoundError:
        return "dev"


def _extract() -> None:
    # From the checkout's root, so the catalogue names files as lti_app/... wherever it lives.
    here = Path.cwd()
    os.chdir(ROOT)
    try:
        _babel(
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "N_",
            "--add-location=file",
            "--sort-by-file",
            "--project=skillsign",
            f"--version={_version()}",
            "--copyright-holder=the skillsign contributors",
            "-o",
            str(TEMPLATE.relative_to(ROOT)),
            "lti_app",
        )
    finally:
        os.chdir(here)


@click.group("translations")
def translations_group() -> None:
    """Message catalogues (English source, Spanish translation)."""


@translations_group.command("update")
def translations_update() -> None:
    """Extract messages and merge them into every language's catalogue."""
    config = ROOT / "babel.cfg"
    if not config.exists():
        fail(f"{config} not found: run this from a source checkout of skillsign")
    _extract()
    _babel("update", "-i", str(TEMPLATE), "-d", str(TRANSLATIONS), "--ignore-obsolete")
    click.echo(f"updated {TEMPLATE.relative_to(ROOT)} and the catalogues beside it")


@translations_group.command("compile")
def translations_compile() -> None:
    """Compile every catalogue to the .mo the app loads."""
    _babel("compile", "-d", str(TRANSLATIONS), "--statistics")
