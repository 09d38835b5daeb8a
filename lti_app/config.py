"""Settings from ``SKILLSIGN_*`` environment variables.

Every setting has one name, one default and one place where it is read, so the
README's configuration table and the code cannot drift apart.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any


class ConfigError(RuntimeError):
    """A setting is missing or invalid; the message names it."""


@dataclass(frozen=True)
class Setting:
    env: str
    key: str
    default: Any
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("SKILLSIGN_ENV", "ENV", "development", "development, demo, test or production"),
    Setting(
        "SKILLSIGN_INSTANCE_DIR",
        "INSTANCE_DIR",
        "instance",
        "where dev secrets, keys and the SQLite database live",
    ),
    Setting(
        "SKILLSIGN_DATABASE_URL",
        "DATABASE_URL",
        None,
        "SQLAlchemy URL; default sqlite:///<instance>/skillsign.db",
    ),
    Setting(
        "SKILLSIGN_SECRET_KEY", "SECRET_KEY", None, "session/CSRF secret; required in production"
    ),
    Setting(
        "SKILLSIGN_BASE_URL",
        "BASE_URL",
        "http://127.0.0.1:5000",
        "public URL of this tool, no trailing slash",
    ),
    Setting("SKILLSIGN_KEYS_DIR", "KEYS_DIR", None, "key store directory; default <instance>/keys"),
    Setting("SKILLSIGN_LOG_LEVEL", "LOG_LEVEL", "INFO", "log level"),
    Setting(
        "SKILLSIGN_PROXY_FIX", "PROXY_FIX", "0", "number of trusted reverse proxies (X-Forwarded-*)"
    ),
    Setting(
        "SKILLSIGN_AUTO_APPROVE_DEPLOYMENTS",
        "AUTO_APPROVE_DEPLOYMENTS",
        "0",
        "approve unknown deployments of known platforms",
    ),
    Setting(
        "SKILLSIGN_ISSUER_DID",
        "ISSUER_DID",
        None,
        "credential issuer identity: web (did:web of BASE_URL) or key (did:key); default key, web in production",
    ),
    Setting(
        "SKILLSIGN_VC_JWT_ALG",
        "VC_JWT_ALG",
        "RS256",
        "VC-JWT signing algorithm: RS256 (OB 3.0's minimum, an RSA credential key) or EdDSA",
    ),
    Setting(
        "SKILLSIGN_ISSUER_NAME",
        "ISSUER_NAME",
        None,
        "issuer name on credentials; default the host of BASE_URL",
    ),
    Setting(
        "SKILLSIGN_ISSUER_EMAIL",
        "ISSUER_EMAIL",
        None,
        "issuer contact address in the issuer profile; default credentials@<host>",
    ),
    Setting(
        "SKILLSIGN_RATELIMIT_STORAGE_URI",
        "RATELIMIT_STORAGE_URI",
        "memory://",
        "rate-limit counters: memory:// (per process) or redis://host:6379/0 (shared)",
    ),
    Setting(
        "SKILLSIGN_RATELIMIT_VERIFY",
        "RATELIMIT_VERIFY",
        "60 per minute;600 per hour",
        "POSTs to /verify and /api/v1/verify per client address",
    ),
    Setting(
        "SKILLSIGN_OUTBOUND_MAX_IN_FLIGHT",
        "OUTBOUND_MAX_IN_FLIGHT",
        "4",
        "outbound fetches in flight per process; one more fails at once (503 + Retry-After)",
    ),
    Setting(
        "SKILLSIGN_RATELIMIT_REGISTER",
        "RATELIMIT_REGISTER",
        "10 per minute;60 per hour",
        "requests to /lti/register (dynamic registration) per client address",
    ),
    Setting(
        "SKILLSIGN_RATELIMIT_WALLET",
        "RATELIMIT_WALLET",
        "30 per minute;300 per hour",
        "POSTs to the OpenID4VCI token and credential endpoints per client address",
    ),
    Setting(
        "SKILLSIGN_LAUNCH_SESSION_MAX_AGE",
        "LAUNCH_SESSION_MAX_AGE",
        "12",
        "hours a launch session lasts at most however active (the idle limit is 8 hours)",
    ),
)

PRODUCTION = "production"


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


def _hours(name: str, value: Any) -> timedelta:
    if isinstance(value, timedelta):  # an override from a test or an embedding app
        return value
    try:
        hours = float(str(value).strip())
    except ValueError:
        hours = 0.0
    if not 0 < hours <= 24 * 366:
        raise ConfigError(f"{name}: expected a number of hours above 0, got {value!r}")
    return timedelta(hours=hours)


def _dev_secret(instance_dir: Path) -> str:
    """A secret generated once per instance, so sessions survive restarts in dev."""
    path = instance_dir / "secret_key"
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        instance_dir.mkdir(parents=True, exist_ok=True)
        value = secrets.token_urlsafe(48)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process won the race: use its secret
            return path.read_text(encoding="utf-8").strip()
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(value)
        return value


def load_settings(
    environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Resolve every setting: overrides > environment > default."""
    env = os.environ if environ is None else environ
    overrides = dict(overrides or {})
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        if setting.key in overrides:
            values[setting.key] = overrides.pop(setting.key)
        else:
            values[setting.key] = env.get(setting.env, setting.default)

    instance_dir = Path(values["INSTANCE_DIR"]).resolve()
    values["INSTANCE_DIR"] = str(instance_dir)
    if not values["DATABASE_URL"]:
        values["DATABASE_URL"] = f"sqlite:///{instance_dir / 'skillsign.db'}"
    if not values["KEYS_DIR"]:
        values["KEYS_DIR"] = str(instance_dir / "keys")
    values["BASE_URL"] = str(values["BASE_URL"]).rstrip("/")
    values["PROXY_FIX"] = int(values["PROXY_FIX"] or 0)
    values["AUTO_APPROVE_DEPLOYMENTS"] = _truthy(values["AUTO_APPROVE_DEPLOYMENTS"])
    in_flight = str(values["OUTBOUND_MAX_IN_FLIGHT"]).strip()
    if not in_flight.isdigit() or int(in_flight) < 1:
        raise ConfigError(
            f"SKILLSIGN_OUTBOUND_MAX_IN_FLIGHT: expected a whole number of 1 or more, "
            f"got {values['OUTBOUND_MAX_IN_FLIGHT']!r}"
        )
    values["OUTBOUND_MAX_IN_FLIGHT"] = int(in_flight)
    values["LAUNCH_SESSION_MAX_AGE"] = _hours(
        "SKILLSIGN_LAUNCH_SESSION_MAX_AGE", values["LAUNCH_SESSION_MAX_AGE"]
    )

    if values["ENV"] not in {"development", "demo", "test", PRODUCTION}:
        raise ConfigError(
            f"SKILLSIGN_ENV: expected development, demo, test or production, got {values['ENV']!r}"
        )
    if not values["SECRET_KEY"]:
        if values["ENV"] == PRODUCTION:
            raise ConfigError("SKILLSIGN_SECRET_KEY is required when SKILLSIGN_ENV=production")
        values["SECRET_KEY"] = _dev_secret(instance_dir)
    method = str(values["ISSUER_DID"] or ("web" if values["ENV"] == PRODUCTION else "key"))
    if method.strip().lower() not in {"web", "key"}:
        raise ConfigError(f"SKILLSIGN_ISSUER_DID: expected web or key, got {method!r}")
    values["ISSUER_DID"] = method.strip().lower()
    algorithm = {"rs256": "RS256", "eddsa": "EdDSA"}.get(
        str(values["VC_JWT_ALG"] or "RS256").strip().lower()
    )
    if algorithm is None:
        raise ConfigError(
            f"SKILLSIGN_VC_JWT_ALG: expected RS256 or EdDSA, got {values['VC_JWT_ALG']!r}"
        )
    values["VC_JWT_ALG"] = algorithm
    if values["ENV"] == PRODUCTION and not values["BASE_URL"].startswith("https://"):
        raise ConfigError("SKILLSIGN_BASE_URL must be an https:// URL in production")

    values.update(overrides)  # remaining overrides are plain Flask settings (TESTING, ...)
    return values
