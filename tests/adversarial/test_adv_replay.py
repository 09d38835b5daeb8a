"""Replays: every id_token, state and launch ticket works once, whichever app process it reaches.

Two ``create_app()`` instances share one database (its own caches and key cache in each, as
two gunicorn workers or two hosts would have); a replay goes to the process that took the
original, to the other one, and to both at the same moment. Each replay must be refused
and leave no launch session behind. (Replays across two gunicorn processes over HTTP are in
test_adv_two_hosts.py.)
"""

from __future__ import annotations

import re
import threading
from datetime import timedelta
from html import unescape

import pytest
import requests
from sqlalchemy import func, select
from support import adversarial_figures as figures
from support.adversarial_launch import Forger, browser_cookie, launch, login
from support.lti_platform import LaunchSpec, parse_form

from lti_app import create_app
from lti_app.db import utcnow
from lti_app.db.models import LaunchSession
from lti_app.lti import storage
from lti_app.lti.login import BROWSER_COOKIE

ROUNDS = 15


@pytest.fixture
def second_app(app, database_url, tmp_path):
    """Another app process over the same database: same keys and secret, its own caches."""
    other = create_app(
        {
            "ENV": "test",
            "TESTING": True,
            "DATABASE_URL": database_url,
            "INSTANCE_DIR": str(tmp_path / "second"),
            "KEYS_DIR": app.config["KEYS_DIR"],
            "SECRET_KEY": app.config["SECRET_KEY"],
            "BASE_URL": app.config["BASE_URL"],
        }
    )
    yield other
    other.extensions["skillsign.db"].dispose()


def _same_browser(app, client):
    """A test client of ``app`` holding the same browser cookie as ``client``."""
    twin = app.test_client()
    twin.set_cookie(BROWSER_COOKIE, browser_cookie(client), domain="localhost")
    return twin


def _sessions(db) -> int:
    with db.transaction() as session:
        return session.scalar(select(func.count()).select_from(LaunchSession))


def _code(answer) -> str:
    return answer.json["code"]


def test_replayed_id_tokens_are_refused_by_every_process(app, second_app, client, lti_platform, db):
    replays = 0
    for round_ in range(ROUNDS):
        first = launch(client, lti_platform, LaunchSpec(user_id=f"learner-{round_}"))
        assert first.status == 303
        other = _same_browser(second_app, client)
        sessions = _sessions(db)
        for browser in (client, other, client, other):
            answer = browser.post(
                "/lti/launch", data=first.form, headers={"Accept": "application/json"}
            )
            assert answer.status_code == 401, answer.get_data(as_text=True)[:300]
            assert _code(answer) == "lti.replay"
            replays += 1
        assert _sessions(db) == sessions, "a refused replay opened a launch session"
    figures.add("replays refused (id_token, two processes)", replays)


def test_a_used_state_cannot_carry_a_new_token(app, second_app, client, forger: Forger):
    """A captured state is worth nothing once used, even with a freshly signed token."""
    other = _same_browser(second_app, client)  # the forger's first launch set the cookie
    replays = 0
    for _ in range(ROUNDS):
        fresh = login(client, forger.platform)
        token = forger.sign(forger.claims(fresh.nonce))
        assert (
            client.post("/lti/launch", data={"id_token": token, "state": fresh.state}).status_code
            == 303
        )
        for browser in (client, other):
            # A new nonce (so the replay check passes) with the spent state.
            again = forger.sign(forger.claims("new-" + fresh.nonce))
            answer = browser.post(
                "/lti/launch",
                data={"id_token": again, "state": fresh.state},
                headers={"Accept": "application/json"},
            )
            assert answer.status_code == 401 and _code(answer) == "lti.unknown_state"
            replays += 1
    figures.add("replays refused (state, two processes)", replays)


def test_simultaneous_replays_on_two_processes_let_exactly_one_in(app, second_app, client, forger):
    """The same launch POSTed to both processes at once, many times over: one wins each time."""
    other = _same_browser(second_app, client)
    accepted = refused = 0
    for _ in range(ROUNDS):
        fresh = login(client, forger.platform)
        form = {"id_token": forger.sign(forger.claims(fresh.nonce)), "state": fresh.state}
        barrier = threading.Barrier(4)
        answers: list[int] = []
        lock = threading.Lock()

        def post(browser, form=form, barrier=barrier, answers=answers, lock=lock):
            barrier.wait()
            status = browser.post("/lti/launch", data=form).status_code
            with lock:
                answers.append(status)

        # Test clients are not thread-safe: one per thread, two per process.
        browsers = [client, other, _same_browser(app, client), _same_browser(second_app, client)]
        threads = [threading.Thread(target=post, args=(b,)) for b in browsers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert sorted(answers) == [303, 401, 401, 401], answers
        accepted += 1
        refused += 3
    figures.add("replays refused (simultaneous, two processes)", refused)
    assert accepted == ROUNDS


def test_replay_after_the_nonce_was_purged_is_still_refused(app, client, lti_platform, db):
    """Purging expired nonces must not reopen the door: the state is gone and the token expired."""
    first = launch(client, lti_platform, LaunchSpec())
    assert first.status == 303
    with db.transaction() as session:
        removed = storage.purge_expired(session, now=utcnow() + timedelta(days=2))
    assert removed >= 1
    answer = client.post("/lti/launch", data=first.form, headers={"Accept": "application/json"})
    assert answer.status_code == 401
    assert _code(answer) in ("lti.expired", "lti.unknown_state")


def test_a_launch_ticket_opens_its_session_once(app, second_app, lti_platform, db):
    """Cookie-less launches (platform storage) finish with a one-time ticket: a second use, in
    either process, is refused."""
    browser = app.test_client()
    started = browser.get(
        "/lti/login", query_string=lti_platform.login_params(LaunchSpec(storage_target="_parent"))
    )
    assert started.status_code == 200  # the page that puts the state into platform storage
    auth_url = unescape(re.search(r'data-auth-url="([^"]+)"', started.get_data(as_text=True))[1])
    _action, form = parse_form(requests.get(auth_url, timeout=10).text)
    # The platform's storage, not our cookie, binds this launch: a browser without it posts.
    checked = app.test_client().post("/lti/launch", data=form)
    assert checked.status_code == 200
    ticket = re.search(r'name="ticket" value="([^"]+)"', checked.get_data(as_text=True))[1]
    assert app.test_client().post("/lti/launch/confirm", data={"ticket": ticket}).status_code == 303
    replays = 0
    for process in (app, second_app, app):
        again = process.test_client().post(
            "/lti/launch/confirm", data={"ticket": ticket}, headers={"Accept": "application/json"}
        )
        assert again.status_code == 401 and again.json["code"] == "lti.confirm_failed"
        replays += 1
    figures.add("replays refused (launch ticket)", replays)
