"""The LMS side of the launch storm, in a process of its own: one LTI 1.3 platform per tool
(tests/support's LaunchPlatform on PyPI ``lti1p3platform``, which signs real RS256
id_tokens), each on 127.0.0.1 with an extra ``/start`` page that stands for the course page a
learner clicks: it returns the tool's login URL for that learner.

    python bench/storm_platform.py '{"tools": {"ours": URL, "bare": URL}, "custom": {...}}'

Prints one JSON line (each platform's issuer, endpoints and deployment), then serves until
its standard input closes or it is terminated.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from flask import Response, request  # noqa: E402
from support.lti_platform import INSTRUCTOR, LEARNER, LaunchPlatform, LaunchSpec  # noqa: E402

COURSE = "storm-course"
COURSE_TITLE = "Psychiatric technicians, spring cohort"
LINK = "storm-link"


def platform_for(tool_url: str, custom: dict[str, str]) -> LaunchPlatform:
    platform = LaunchPlatform(client_id="storm-client", deployment_id="storm-deployment")

    def start() -> Response:
        user = request.args.get("user", "")
        if not user or len(user) > 64:
            return Response("user: 1-64 characters", status=400)
        role = INSTRUCTOR if request.args.get("role") == "instructor" else LEARNER
        spec = LaunchSpec(
            user_id=user,
            roles=[role],
            name=f"Learner {user}",
            email=f"{user}@example.edu",
            context_id=COURSE,
            context_title=COURSE_TITLE,
            resource_link_id=LINK,
            resource_link_title="Competency checklist",
            custom=custom,
            # No roster service: nothing in a launch calls it, and this platform serves
            # launches only.
            nrps=False,
        )
        return Response(platform.login_url(spec), mimetype="text/plain")

    platform.app.add_url_rule("/start", "start", start)
    platform.start()
    platform.connect(tool_url)
    return platform


def main() -> None:
    config = json.loads(sys.argv[1])
    platforms = {
        name: platform_for(url, config.get("custom", {})) for name, url in config["tools"].items()
    }
    print(
        json.dumps(
            {
                name: {
                    "url": p.url,
                    "issuer": p.issuer,
                    "client_id": p.client_id,
                    "auth_login_url": p.auth_url,
                    "auth_token_url": p.token_url,
                    "key_set_url": p.jwks_url,
                    "deployment_id": p.deployment_id,
                }
                for name, p in platforms.items()
            }
        ),
        flush=True,
    )
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
    done.wait()
    for p in platforms.values():
        p.stop()


if __name__ == "__main__":
    main()
