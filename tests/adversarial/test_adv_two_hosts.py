"""Two app hosts: two gunicorn instances (two workers each) on different ports, one database
(the run's: a SQLite file by default, PostgreSQL with SKILLSIGN_TEST_DATABASE_URL), one key
store and secret, one public BASE_URL, as behind a load balancer.

A login on one host and the launch on the other succeed; the launch session works on both;
a replay is refused by either; sign-offs sent through both hosts at once leave one event per
statement and one credential.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select
from support import adversarial_figures as figures
from support.adversarial_procs import free_port, gunicorn, tool_env
from support.lti_platform import INSTRUCTOR, LEARNER, Browser, LaunchPlatform, LaunchSpec

from frameworks import load
from lti_app.db.models import Credential, FrameworkVersion, ResourceLink, SignoffEvent, User
from lti_app.request_db import database
from lti_app.services.frameworks import import_framework

pytestmark = pytest.mark.slow
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def hosts(app, tmp_path: Path, seed_path):
    ports = free_port(), free_port()
    public = f"http://127.0.0.1:{ports[0]}"  # the one address platforms know
    app.config["BASE_URL"] = public
    started = []
    try:
        for n, port in enumerate(ports):
            env = tool_env(app, tmp_path / f"host-{n}", SKILLSIGN_BASE_URL=public)
            started.append(gunicorn(env, tmp_path / f"host-{n}.log", port, workers=2))
        yield [f"http://127.0.0.1:{port}" for port in ports]
    finally:
        for process in started:
            process.stop()


@pytest.fixture
def platform(app, hosts):
    launch_platform = LaunchPlatform().start().connect(hosts[0])
    launch_platform.register_in(app)
    yield launch_platform
    launch_platform.stop()


def _launch_across(
    platform: LaunchPlatform, browser: Browser, spec: LaunchSpec, login_host: str, launch_host: str
):
    """Login at one host (the platform is told the public URL), launch POST to the other."""
    login = browser.http.get(
        f"{login_host}/lti/login",
        params=platform.login_params(spec),
        allow_redirects=False,
        timeout=10,
    )
    action, form = browser.authorize(login)
    assert action.startswith(platform.tool_url)
    answer = browser.http.post(
        f"{launch_host}/lti/launch", data=form, allow_redirects=False, timeout=10
    )
    return answer, form


def test_login_on_one_host_launch_on_the_other(app, db, hosts, platform, seed_path):
    one, two = hosts
    with app.app_context(), database(app).transaction() as session:
        version_id = import_framework(session, load(seed_path), "ler").version.id
    teacher = Browser()
    answer, _form = _launch_across(
        platform, teacher, LaunchSpec(user_id="teacher", roles=[INSTRUCTOR]), one, two
    )
    assert answer.status_code == 303, answer.text[:500]
    session_path = answer.headers["Location"]
    with db.transaction() as session:
        link = session.scalar(select(ResourceLink))
        link.framework_version_id, link.level_keys = version_id, ["emerging"]
    learner_browser = Browser()
    answer, learner_form = _launch_across(
        platform, learner_browser, LaunchSpec(user_id="learner-1", roles=[LEARNER]), two, one
    )
    assert answer.status_code == 303, answer.text[:500]

    # The launch session works on both hosts (state in the database, not in a process).
    for host in (one, two):
        page = teacher.http.get(f"{host}{session_path}grid", timeout=10)
        assert page.status_code == 200, (host, page.status_code)

    # A replayed launch is refused by every worker of both hosts.
    replays = 0
    for host in (one, two, one, two, one, two):
        again = learner_browser.http.post(
            f"{host}/lti/launch", data=learner_form, allow_redirects=False, timeout=10
        )
        assert again.status_code == 401 and "already used" in again.text
        replays += 1
    figures.add("replays refused (two gunicorn hosts)", replays)

    # Sign-offs through both hosts at once: every statement signed exactly once.
    with db.transaction() as session:
        learner_id = session.scalar(select(User.id).where(User.sub == "learner-1"))
        statements = [
            s.id
            for lv in session.get(FrameworkVersion, version_id).levels
            if lv.key == "emerging"
            for s in lv.statements
        ]
    learner_page = f"{session_path}learners/{learner_id}"
    csrf = CSRF_RE.search(teacher.http.get(f"{one}{learner_page}", timeout=10).text).group(1)
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    barrier = threading.Barrier(2 * len(statements))

    def post(host: str, statement: str) -> None:
        browser = requests.Session()
        browser.cookies.update(teacher.http.cookies)
        barrier.wait()
        status = browser.post(
            f"{host}{learner_page}/sign",
            data={"statement": statement, "csrf_token": csrf},
            allow_redirects=False,
            timeout=30,
        ).status_code
        with lock:
            statuses[status] += 1

    threads = [
        threading.Thread(target=post, args=(host, str(statement)))
        for statement in statements
        for host in (one, two)  # each statement through both hosts at the same moment
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert statuses == Counter({303: 2 * len(statements)}), statuses
    figures.add("sign-offs through two gunicorn hosts at once", 2 * len(statements))
    with db.transaction() as session:
        signed = Counter(
            session.scalars(
                select(SignoffEvent.statement_id).where(SignoffEvent.learner_id == learner_id)
            )
        )
        credentials = session.scalar(
            select(func.count()).select_from(Credential).where(Credential.learner_id == learner_id)
        )
    assert signed == Counter({s: 1 for s in statements})
    assert credentials == 1
