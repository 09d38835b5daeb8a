"""One transaction per request: services flush, the request commits or rolls back."""

from __future__ import annotations

from flask import Flask, Response, current_app, g
from sqlalchemy.orm import Session

from lti_app.db import Database


def database(app: Flask | None = None) -> Database:
    return (app or current_app).extensions["skillsign.db"]


def session() -> Session:
    """The request's session, opened on first use."""
    if "db_session" not in g:
        g.db_session = database().sessionmaker()
    return g.db_session


def init_app(app: Flask) -> None:
    @app.after_request
    def _commit(response: Response) -> Response:
        db: Session | None = g.pop("db_session", None)
        if db is not None:
            try:
                if response.status_code < 400:
                    db.commit()  # a failed commit becomes a 500, not a silent 200
                else:
                    db.rollback()
            finally:
                db.close()
        return response

    @app.teardown_request
    def _close(_exc: BaseException | None) -> None:
        db: Session | None = g.pop("db_session", None)
        if db is not None:  # an exception skipped after_request
            db.rollback()
            db.close()
