"""Structured logging: one JSON object per line, secrets scrubbed."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any

# Anything that looks like a compact JWS/JWT or a PEM block never reaches a log line.
_JWT_RE = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
_PEM_RE = re.compile(r"-----BEGIN [A-Z ]+-----.*?-----END [A-Z ]+-----", re.S)
# A launch page's path carries its session token (/s/<token>/...): a bearer credential.
_SESSION_PATH_RE = re.compile(r"/s/[A-Za-z0-9_-]{16,}")
_SECRET_FIELDS = {"id_token", "access_token", "token", "private_key", "secret", "password", "jwt"}
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


def redact_path(path: str) -> str:
    """A URL path fit for a log line: a launch session token becomes ``[session]``."""
    return _SESSION_PATH_RE.sub("/s/[session]", path)


def scrub(value: Any) -> Any:
    if isinstance(value, str):
        return redact_path(_PEM_RE.sub("[pem]", _JWT_RE.sub("[jwt]", value)))
    if isinstance(value, dict):
        return {k: ("[redacted]" if k in _SECRET_FIELDS else scrub(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    return value


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(scrub(entry), default=str, ensure_ascii=False)


def configure(level: str = "INFO") -> None:
    """Install the JSON handler on the root logger once."""
    root = logging.getLogger()
    if any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        root.setLevel(level.upper())
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    root.setLevel(level.upper())
    # Alembic narrates every plugin it loads at INFO; keep its warnings only.
    logging.getLogger("alembic").setLevel(logging.WARNING)
