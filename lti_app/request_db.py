"""One transaction per request: services flush, the request commits or rolls back.

The rule (docs/architecture.md §3): a request commits only if it succeeded, that is its
response is below 400, no exception escaped it, and it reported no error. Reporting an
error on the page a view redirects to is flashing it with the category ``"error"``
(``ERROR``); that flash alone rolls the request back, so no view rolls back by hand.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, current_app, g, message_flashed
from sqlalchemy.orm import Session

from lti_app.db import Database

ERROR = "error"  # the flash category of a failure: the request's writes are abandoned


def database(app: Flask | None = None) -> Database:
    return (app or current_app).extensions["skillsign.db"]


def session() -> Session:
    """The request's session, opened on first use."""
    if "db_session" not in g:
        g.db_session = database().sessionmaker()
    return g.db_session


def fail() -> None:
    """This request has failed: what it wrote is rolled back now (so what it reads from here
    on, such as the page that shows the error, is what is stored) and it commits nothing."""
    g.db_failed = True
    db: Session | None = g.get("db_session")
    if db is not None:
        db.rollback()


def _error_flashed(_app: Flask, message: str = "", category: str = "", **_: Any) -> None:
    if category == ERROR:
        fail()


def init_app(app: Flask) -> None:
    # A module-level receiver: blinker holds receivers weakly.
    message_flashed.connect(_error_flashed, app)

    @app.after_request
    def _commit(response: Response) -> Response:
        db: Session | None = g.pop("db_session", None)
        failed = g.pop("db_failed", False)
        if db is not None:
            try:
                if response.status_code < 400 and not failed:
                    db.commit()  # a failed commit becomes a 500, not a silent 200
                else:
                    db.rollback()
            finally:
                db.close()
        return response

    @app.teardown_request
    def _close(_exc: BaseException | None) -> None:
        g.pop("db_failed", None)
        db: Session | None = g.pop("db_session", None)
        if db is not None:  # an exception skipped after_request
            db.rollback()
            db.close()
