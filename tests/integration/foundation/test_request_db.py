"""The transaction rule of ``request_db`` itself (docs/architecture.md §3), on routes made for
the test: each writes a row through the request's session, then ends one way or another.
Only a request that succeeded keeps its row; an error flashed on the way to a redirect
rolls the request back by itself, and the message still reaches the next page."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask, flash, get_flashed_messages, redirect
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from lti_app import request_db
from lti_app.db.models import User
from lti_app.errors import AppError

ISSUER = "https://request-db.example"


def _write(sub: str) -> None:
    request_db.session().add(User(issuer=ISSUER, sub=sub))
    request_db.session().flush()


def _stored(app: Flask) -> set[str]:
    with app.app_context(), request_db.database(app).transaction() as db:
        return set(db.scalars(select(User.sub).where(User.issuer == ISSUER)))


def _count_now() -> int:
    return request_db.session().scalar(
        select(func.count()).select_from(User).where(User.issuer == ISSUER)
    )


def ok() -> str:
    _write("ok")
    return "done"


def flashed_success() -> Response:
    _write("flashed_success")
    flash("Saved.", "success")
    return redirect("/messages", 303)


def client_error() -> tuple[str, int]:
    _write("client_error")
    return "refused", 400


def raised() -> str:
    _write("raised")
    raise AppError("refused")


def crashed() -> str:
    _write("crashed")
    raise RuntimeError("a bug")


def flashed_error() -> Response:
    _write("flashed_error")
    flash("That did not work.", request_db.ERROR)
    return redirect("/messages", 303)


def flashed_error_then_wrote() -> Response:
    _write("before_the_flash")
    flash("That did not work.", "error")
    _write("after_the_flash")  # a failed request commits nothing, whenever it wrote
    return redirect("/messages", 303)


def failed_then_read() -> str:
    _write("failed_then_read")
    request_db.fail()
    return str(_count_now())  # read after the rollback: what is stored


ROUTES: dict[str, tuple[Callable[..., object], set[str]]] = {
    # route -> (view, rows kept)
    "ok": (ok, {"ok"}),
    "flashed_success": (flashed_success, {"flashed_success"}),
    "client_error": (client_error, set()),
    "raised": (raised, set()),
    "crashed": (crashed, set()),
    "flashed_error": (flashed_error, set()),
    "flashed_error_then_wrote": (flashed_error_then_wrote, set()),
    "failed_then_read": (failed_then_read, set()),
}


@pytest.fixture
def routed(app: Flask) -> Flask:
    app.config["PROPAGATE_EXCEPTIONS"] = False  # a bug is a 500 page, as in production
    for name, (view, _) in ROUTES.items():
        app.add_url_rule(f"/request-db/{name}", name, view)
    app.add_url_rule("/messages", "messages", lambda: " | ".join(get_flashed_messages()))
    return app


@pytest.mark.parametrize("name", list(ROUTES))
def test_only_a_request_that_succeeded_keeps_what_it_wrote(routed: Flask, name: str) -> None:
    client = routed.test_client()
    answer = client.get(f"/request-db/{name}")
    assert _stored(routed) == ROUTES[name][1]
    if name == "failed_then_read":
        assert answer.text == "0"
    if name.startswith("flashed_"):
        assert answer.status_code == 303
        said = "Saved." if name == "flashed_success" else "That did not work."
        assert client.get("/messages").text == said


def test_an_error_flash_in_one_request_does_not_fail_the_next(routed: Flask) -> None:
    client = routed.test_client()
    client.get("/request-db/flashed_error")
    assert client.get("/request-db/ok").status_code == 200
    assert _stored(routed) == {"ok"}
