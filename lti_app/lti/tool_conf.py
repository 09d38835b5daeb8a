"""pylti1p3's tool configuration, read from the platform registry in the database.

pylti1p3 ships JSON-file and dict configurations; ``RegistryToolConf`` answers
the same questions from the ``platforms`` and ``deployments`` tables, and hands
pylti1p3 the tool's RSA key from the key store (loaded only when something is
signed, not on every launch).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pylti1p3.deployment import Deployment as PyltiDeployment
from pylti1p3.registration import Registration
from pylti1p3.request import Request
from pylti1p3.tool_config import ToolConfAbstract
from sqlalchemy.orm import Session

from lti_app.db.models import Platform
from lti_app.lti.tool_keys import ToolKeys
from lti_app.services import registry


class ToolRegistration(Registration):
    """A pylti1p3 Registration for one Platform row; tool keys come lazily from the store."""

    def __init__(self, platform: Platform, keys: ToolKeys) -> None:
        self.platform = platform
        self._keys = keys
        self.set_issuer(platform.issuer)
        self.set_client_id(platform.client_id)
        self.set_auth_login_url(platform.auth_login_url)
        self.set_auth_token_url(platform.auth_token_url)
        self.set_key_set_url(platform.jwks_url)
        if platform.auth_audience:
            self.set_auth_audience(platform.auth_audience)

    def get_tool_private_key(self) -> str:
        return self._keys.private_pem()

    def get_tool_public_key(self) -> str:
        return self._keys.public_pem()

    def get_kid(self) -> str:
        # The store's kid is the RFC 7638 thumbprint, the same value pylti1p3 would compute.
        return self._keys.active_kid()

    def get_jwks(self) -> list[Mapping[str, Any]]:  # as Registration declares it
        return list(self._keys.jwks()["keys"])


class RegistryToolConf(ToolConfAbstract[Request]):
    """One issuer may have several client_ids (one per registration)."""

    def __init__(self, session: Session, keys: ToolKeys) -> None:
        super().__init__()
        self._db = session
        self._keys = keys

    def check_iss_has_one_client(self, iss: str) -> bool:
        return False

    def check_iss_has_many_clients(self, iss: str) -> bool:
        return True

    def platform(self, iss: str, client_id: str | None) -> Platform | None:
        if client_id:
            return registry.find_platform(self._db, iss, client_id)
        candidates = registry.platforms_for_issuer(self._db, iss)
        return candidates[0] if len(candidates) == 1 else None

    def registration_for(self, platform: Platform) -> ToolRegistration:
        return ToolRegistration(platform, self._keys)

    def find_registration_by_issuer(self, iss: str, *args: Any, **kwargs: Any) -> Any:
        platform = self.platform(iss, None)
        return None if platform is None else self.registration_for(platform)

    def find_registration_by_params(
        self, iss: str, client_id: str, *args: Any, **kwargs: Any
    ) -> Any:
        platform = self.platform(iss, client_id)
        return None if platform is None else self.registration_for(platform)

    def _deployment(self, platform: Platform | None, deployment_id: str) -> Any:
        if platform is None:
            return None
        row = registry.find_deployment(self._db, platform.id, deployment_id)
        if row is None or row.status != registry.APPROVED:
            return None
        return PyltiDeployment().set_deployment_id(deployment_id)

    def find_deployment(self, iss: str, deployment_id: str) -> Any:
        return self._deployment(self.platform(iss, None), deployment_id)

    def find_deployment_by_params(
        self, iss: str, deployment_id: str, client_id: str, *args: Any, **kwargs: Any
    ) -> Any:
        return self._deployment(self.platform(iss, client_id), deployment_id)

    def get_jwks(self, iss: str | None = None, client_id: str | None = None, **kwargs: Any) -> Any:
        return self._keys.jwks()
