"""One way to fetch: nothing in lti_app reaches the network except through lti_app.outbound,
and pylti1p3 is handed a session that refuses to send."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import requests
from support.outbound_servers import WsgiServer, json_app

from lti_app.lti.http import pylti_session

LTI_APP = Path(__file__).resolve().parents[3] / "lti_app"
NETWORK_MODULES = {"requests", "urllib.request", "urllib3", "http.client", "httpx", "socket"}
# The refusing session for pylti1p3 needs requests' types, nothing more.
ALLOWED = {
    ("lti/http.py", "requests"),
    ("outbound/fetch.py", "http.client"),
    ("outbound/fetch.py", "socket"),
}


def _imports(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_only_the_outbound_package_imports_network_clients():
    offenders = []
    for path in sorted(LTI_APP.rglob("*.py")):
        relative = path.relative_to(LTI_APP).as_posix()
        for module in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if module in NETWORK_MODULES and (relative, module) not in ALLOWED:
                offenders.append(f"{relative} imports {module}")
    assert offenders == []


def test_the_outbound_package_has_no_flask():
    for path in (LTI_APP / "outbound").glob("*.py"):
        assert not any(m.split(".")[0] == "flask" for m in _imports(ast.parse(path.read_text())))


def test_pylti1p3_gets_a_session_that_sends_nothing():
    server = WsgiServer(json_app())
    try:
        with pytest.raises(requests.RequestException, match=r"lti_app\.outbound"):
            pylti_session().get(f"{server.url}/jwks")
        assert server.hits == []
    finally:
        server.stop()
