"""Which addresses an outbound fetch may connect to: an explicit policy per caller.

* ``PUBLIC``: globally routable addresses only. For whatever a stranger can make us fetch:
  verify-by-URL, other issuers' DID documents and status lists.
* ``PLATFORM``: also private and loopback addresses. For LTI platforms: dynamic
  registration, platform JWKS, OAuth2 tokens, AGS and NRPS. On-premises LMSs live on
  private networks, a registered platform was vouched for by an admin, and the built-in demo
  LMS is this very host (127.0.0.1).

Both refuse addresses no server should be reached at: unspecified (0.0.0.0 connects to
this host), link-local (169.254.169.254 is the cloud metadata service), multicast and
reserved ranges. IPv6 forms that carry an IPv4 address (mapped, NAT64, 6to4) are checked as
that IPv4 address too.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def _embedded_v4(address: Address) -> ipaddress.IPv4Address | None:
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def _never(address: Address) -> str | None:
    if address.is_unspecified:
        return "unspecified"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    # 240.0.0.0/4 holds 255.255.255.255 too; ::/8 holds ::1, which is loopback, not this.
    if address.is_reserved and not address.is_loopback:
        return "reserved"
    return None


@dataclass(frozen=True)
class AddressPolicy:
    """``name`` appears in messages; ``allow_private`` admits private and loopback
    addresses; ``exempt`` networks are admitted whatever else holds (tests only)."""

    name: str
    allow_private: bool = False
    exempt: tuple[Network, ...] = ()

    def with_exempt(self, networks: Iterable[str | Network]) -> AddressPolicy:
        extra = tuple(ipaddress.ip_network(n) if isinstance(n, str) else n for n in networks)
        return AddressPolicy(self.name, self.allow_private, self.exempt + extra)

    def refusal(self, address: Address) -> str | None:
        """Why ``address`` may not be reached under this policy, or None if it may."""
        if any(address in network for network in self.exempt):
            return None
        candidates = [address]
        embedded = _embedded_v4(address)
        if embedded is not None:
            candidates.append(embedded)
        for candidate in candidates:
            if any(candidate in network for network in self.exempt):
                continue
            never = _never(candidate)
            if never:
                article = "an" if never[0] in "aeiou" else "a"
                return f"{article} {never} address ({candidate})"
            if not self.allow_private and not candidate.is_global:
                return f"a non-public address ({candidate})"
        return None


PUBLIC = AddressPolicy("public")
PLATFORM = AddressPolicy("platform", allow_private=True)
