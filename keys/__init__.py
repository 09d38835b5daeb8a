"""Key store: the tool's signing keys, kept outside the repository.

RSA keys sign LTI messages (JWKS at /.well-known/jwks.json); Ed25519 keys sign
credentials (published as Multikey in the issuer's DID document).
"""

from keys.store import KeyKind, KeyRecord, KeyStore, KeyStoreError

__all__ = ["KeyKind", "KeyRecord", "KeyStore", "KeyStoreError"]
