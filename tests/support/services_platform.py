"""An independent LTI Advantage platform for service tests, built on PyPI ``lti1p3platform``.

It serves, over real HTTP on 127.0.0.1, the OAuth2 token endpoint (it checks
the tool's signed client assertion against the tool's JWKS), AGS line items,
scores and results, and NRPS memberships, with the library's own request
handling. Only storage and the HTTP adapter are ours. The library's framework
adapters are never imported (they need pkg_resources).

Faults can be scripted per path (an answer with a status, or a slow answer)
to test retries: the platform code itself is never replaced.
"""

from __future__ import annotations

import threading
import time
import typing as t
from dataclasses import dataclass, field
from datetime import datetime

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, Response, jsonify, request
from lti1p3platform.exceptions import LineItemNotFoundException
from lti1p3platform.ltiplatform import LTI1P3PlatformConfAbstract
from lti1p3platform.membership import Context as NrpsContext
from lti1p3platform.registration import Registration
from lti1p3platform.request import Request, TRequest
from lti1p3platform.score import UpdateScoreStatus
from lti1p3platform.service_connector import (
    AssignmentsGradesService,
    NamesRoleProvisioningService,
)
from werkzeug.serving import make_server

ISSUER = "https://independent-platform.example"
CLIENT_ID = "independent-client"
DEPLOYMENT_ID = "independent-deployment"
COURSE_ID = "course-1"


def _pem_pair() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


class _Config(LTI1P3PlatformConfAbstract):
    def init_platform_config(self, **kwargs: t.Any) -> None:
        self._registration = kwargs["registration"]

    def get_registration_by_params(self, **kwargs: t.Any) -> Registration:
        return self._registration


class _FlaskRequest(Request):
    def build_metadata(self, req: t.Any) -> TRequest:
        query: dict[str, t.Any] = {}
        for key, value in req.args.items():
            query[key] = int(value) if key in ("page", "limit") and value.isdigit() else value
        return {
            "method": req.method,
            "form_data": req.form.to_dict(),
            "get_data": query,
            "headers": req.headers,
            "content_type": req.content_type,
            "path": req.path,
            "json": req.get_json(silent=True),
        }


@dataclass
class Fault:
    path_suffix: str
    times: int
    status: int = 500
    body: str = '{"error": "injected"}'
    delay: float = 0.0  # seconds to wait, then answer normally (a client timeout)
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class PlatformState:
    lineitems: dict[str, dict[str, t.Any]] = field(default_factory=dict)
    # (line item id, userId) -> every score received, in order
    scores: dict[tuple[str, str], list[dict[str, t.Any]]] = field(default_factory=dict)
    members: list[dict[str, t.Any]] = field(default_factory=list)
    token_requests: int = 0
    score_posts: int = 0
    faults: list[Fault] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def latest(self, lineitem_id: str, user_id: str) -> dict[str, t.Any] | None:
        got = self.scores.get((lineitem_id, user_id))
        return got[-1] if got else None


class _Ags(AssignmentsGradesService):
    state: PlatformState
    base: str

    def find_lineitems(
        self,
        page: int = 1,
        limit: int | None = None,
        line_item_id: str | None = None,
        resource_link_id: str | None = None,
        resource_id: str | None = None,
        tag: str | None = None,
    ) -> t.Any:
        items = [
            item
            for item in self.state.lineitems.values()
            if (resource_link_id is None or item.get("resourceLinkId") == resource_link_id)
            and (tag is None or item.get("tag") == tag)
            and (resource_id is None or item.get("resourceId") == resource_id)
        ]
        return {"content": items, "has_next": False, "next": None}

    def find_lineitem(self, line_item_id: str) -> t.Any:
        try:
            return self.state.lineitems[line_item_id]
        except KeyError:
            raise LineItemNotFoundException(line_item_id) from None

    def create_lineitem(self, creation_data: t.Any) -> t.Any:
        with self.state.lock:
            item_id = f"{self.base}/lineitems/{len(self.state.lineitems) + 1}"
            item = dict(creation_data) | {"id": item_id}
            self.state.lineitems[item_id] = item
        return item

    def update_lineitem(self, update_data: t.Any) -> t.Any:
        item = self.find_lineitem(update_data["id"])
        item.update(update_data)
        return item

    def delete_lineitem(self, line_item_id: str) -> None:
        self.find_lineitem(line_item_id)
        del self.state.lineitems[line_item_id]

    def update_score(self, line_item_id: str, score: t.Any) -> UpdateScoreStatus:
        self.find_lineitem(line_item_id)
        key = (line_item_id, str(score["userId"]))
        with self.state.lock:
            self.state.score_posts += 1
            previous = self.state.latest(*key)
            if previous and datetime.fromisoformat(previous["timestamp"]) > datetime.fromisoformat(
                score["timestamp"]
            ):
                return UpdateScoreStatus.OLD_TIMESTAMP
            self.state.scores.setdefault(key, []).append(dict(score))
        return UpdateScoreStatus.SUCCESS if previous else UpdateScoreStatus.CREATED

    def get_results(
        self, line_item_id: str, page: int = 1, limit: int | None = None, user_id: str | None = None
    ) -> t.Any:
        self.find_lineitem(line_item_id)
        results = [
            {
                "id": f"{line_item_id}/results/{uid}",
                "scoreOf": line_item_id,
                "userId": uid,
                "resultScore": scores[-1].get("scoreGiven"),
                "resultMaximum": scores[-1].get("scoreMaximum"),
            }
            for (lid, uid), scores in self.state.scores.items()
            if lid == line_item_id and (user_id is None or uid == user_id)
        ]
        return {"content": results, "has_next": False, "next": None}


class _Nrps(NamesRoleProvisioningService):
    state: PlatformState

    def get_member_data_page(
        self,
        page: int = 1,
        limit: int | None = None,
        role: str | None = None,
        since: str | None = None,
    ) -> t.Any:
        members = [m for m in self.state.members if role is None or role in m["roles"]]
        if not limit:
            return {"content": members, "has_next": False}
        start = (page - 1) * limit
        return {"content": members[start : start + limit], "has_next": start + limit < len(members)}

    def get_context_by_id(self) -> NrpsContext:
        return NrpsContext(id=COURSE_ID, label="C1", title="Independent course")


class IndependentPlatform:
    """The platform, served on 127.0.0.1 in a thread while the test runs."""

    def __init__(self, tool_jwks: dict[str, t.Any] | None = None, tool_jwks_url: str | None = None):
        self.state = PlatformState()
        private, public = _pem_pair()
        self.registration = (
            Registration()
            .set_iss(ISSUER)
            .set_client_id(CLIENT_ID)
            .set_deployment_id(DEPLOYMENT_ID)
            .set_platform_private_key(private)
            .set_platform_public_key(public)
        )
        if tool_jwks is not None:
            self.registration.set_tool_key_set(tool_jwks)  # type: ignore[arg-type]
        if tool_jwks_url is not None:
            self.registration.set_tool_key_set_url(tool_jwks_url)
        self.app = self._build_app()
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.base_url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # -- URLs the tool learns from a launch ------------------------------------
    @property
    def token_url(self) -> str:
        return f"{self.base_url}/token"

    @property
    def lineitems_url(self) -> str:
        return f"{self.base_url}/lineitems"

    @property
    def memberships_url(self) -> str:
        return f"{self.base_url}/memberships"

    def start(self) -> IndependentPlatform:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._thread.join(5)

    def fail(self, path_suffix: str, times: int = 1, **kwargs: t.Any) -> None:
        self.state.faults.append(Fault(path_suffix, times, **kwargs))

    def add_lineitem(self, **fields: t.Any) -> str:
        """A line item made on the platform side (as a teacher adding a graded activity)."""
        with self.state.lock:
            item_id = f"{self.lineitems_url}/{len(self.state.lineitems) + 1}"
            self.state.lineitems[item_id] = dict(fields) | {"id": item_id}
        return item_id

    # -- internals ---------------------------------------------------------------
    def _wsgi(self, environ: dict[str, t.Any], start_response: t.Any) -> t.Any:
        path = environ.get("PATH_INFO", "")
        fault = None
        with self.state.lock:
            for candidate in self.state.faults:
                if candidate.times > 0 and path.endswith(candidate.path_suffix):
                    candidate.times -= 1
                    fault = candidate
                    break
        if fault is not None and fault.delay:
            time.sleep(fault.delay)
        elif fault is not None:
            headers = [("Content-Type", "application/json"), *fault.headers.items()]
            start_response(f"{fault.status} Injected", headers)
            return [fault.body.encode()]
        return self.app(environ, start_response)

    def _config(self) -> _Config:
        return _Config(registration=self.registration)

    def _ags(self) -> _Ags:
        ags = _Ags(_FlaskRequest(request), self._config(), self.lineitems_url)
        ags.state = self.state
        ags.base = self.base_url
        return ags

    def _build_app(self) -> Flask:
        app = Flask("independent_platform")

        def answer(resp: t.Any) -> Response:
            if resp.result is not None:
                body = resp.result
            else:
                body = {"error": resp.message} if resp.code >= 400 else {}
            if isinstance(body, dict) and "content" in body:
                body = body["content"]
            response = jsonify(body)
            response.status_code = resp.code
            if resp.code < 400:
                response.mimetype = resp.media_type
            return response

        @app.post("/token")
        def token() -> Response:
            self.state.token_requests += 1
            try:
                config = self._config()
                body = config.get_access_token(request.form.to_dict())
            except Exception as exc:  # the library raises several kinds; all mean refusal
                return Response(
                    f'{{"error": "invalid_client", "error_description": "{type(exc).__name__}"}}',
                    status=400,
                    mimetype="application/json",
                )
            return jsonify(body)

        @app.route("/lineitems", methods=["GET", "POST"])
        def lineitems() -> Response:
            ags = self._ags()
            if request.method == "POST":
                return answer(ags.handle_resp(ags.handle_create_lineitem))
            return answer(ags.handle_resp(ags.handle_get_lineitems))

        @app.route("/lineitems/<int:n>", methods=["GET", "PUT", "DELETE"])
        def lineitem(n: int) -> Response:
            ags = self._ags()
            item_id = f"{self.lineitems_url}/{n}"
            handler = {
                "GET": ags.handle_get_lineitem,
                "PUT": ags.handle_update_lineitem,
                "DELETE": ags.handle_delete_lineitem,
            }[request.method]
            return answer(ags.handle_resp(handler, line_item_id=item_id))

        @app.post("/lineitems/<int:n>/scores")
        def scores(n: int) -> Response:
            ags = self._ags()
            item_id = f"{self.lineitems_url}/{n}"
            return answer(ags.handle_resp(ags.handle_update_score, line_item_id=item_id))

        @app.get("/lineitems/<int:n>/results")
        def results(n: int) -> Response:
            ags = self._ags()
            item_id = f"{self.lineitems_url}/{n}"
            return answer(ags.handle_resp(ags.handle_get_results, line_item_id=item_id))

        @app.get("/memberships")
        def memberships() -> Response:
            nrps = _Nrps(_FlaskRequest(request), self._config(), self.memberships_url)
            nrps.state = self.state
            resp = nrps.handle_resp(nrps.handle_get_members)
            if resp.result is None:
                return answer(resp)
            body = dict(resp.result)
            next_url = body.pop("next", None)
            response = jsonify(body)
            response.mimetype = resp.media_type
            if next_url:
                # The library puts "next" in the body; NRPS 2.0 says a Link header.
                response.headers["Link"] = f'<{next_url}>; rel="next"'
            return response

        return app
