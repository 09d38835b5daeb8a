"""One strict URL parser for every outbound fetch.

The address we check and the address we connect to must come from the same reading of the
URL. So a URL is parsed once, here, into a frozen ``SafeURL``; the fetcher connects to what
this parser found and sends only its path. Anything that two parsers (ours, a browser's,
urllib3's, a proxy's) could read differently is refused with a message naming the problem:
userinfo, backslashes, control characters and whitespace, numeric hosts other than dotted
quads (``2130706433``, ``0x7f.1``, ``0177.0.0.1``, ``127.1``), IPv6 zone ids, trailing dots,
percent-encoded hosts, empty or odd ports.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urljoin

import idna

from lti_app.outbound.errors import BadURL

MAX_URL_LENGTH = 4096
DEFAULT_PORTS = {"http": 80, "https": 443}

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")
# Hostnames as resolvers take them; "_" is not valid DNS but is common for internal hosts.
_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")
_HEX_LABEL = re.compile(r"^0x[0-9a-f]*$")
_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def _refuse(raw: str, problem: str) -> BadURL:
    shown = raw if len(raw) <= 200 else raw[:200] + "…"
    return BadURL(f"the URL {shown!r} {problem}", url=shown)


@dataclass(frozen=True)
class SafeURL:
    """A parsed, normalised http(s) URL: lowercase ASCII host (IDNA), explicit port, the
    request target (path and query; never a fragment)."""

    scheme: str
    host: str  # IPv6 literals without brackets
    port: int
    target: str

    @property
    def is_ip_literal(self) -> bool:
        try:
            ipaddress.ip_address(self.host)
        except ValueError:
            return False
        return True

    @property
    def authority(self) -> str:
        """host[:port] as the Host header carries it (port only when not the default)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if DEFAULT_PORTS[self.scheme] == self.port else f"{host}:{self.port}"

    @property
    def origin(self) -> tuple[str, str, int]:
        return (self.scheme, self.host, self.port)

    def __str__(self) -> str:
        return f"{self.scheme}://{self.authority}{self.target}"

    def join(self, reference: str) -> SafeURL:
        """Resolve a Location header (absolute or relative) against this URL, strictly."""
        # urljoin silently drops tabs and newlines; refuse them before it can.
        _check_characters(reference, reference)
        return parse_url(urljoin(str(self), reference))


def _check_characters(raw: str, shown: str) -> None:
    for ch in raw:
        if ord(ch) < 0x21 or ord(ch) == 0x7F or ch.isspace():
            raise _refuse(shown, "contains whitespace or a control character")
        if ch == "\\":
            raise _refuse(shown, "contains a backslash, which parsers read differently")


def _port(raw: str, text: str) -> int:
    if text == "":
        raise _refuse(raw, "has an empty port after ':'")
    if not text.isascii() or not text.isdigit() or len(text) > 5 or text.startswith("0"):
        raise _refuse(raw, f"has an invalid port {text!r}")
    port = int(text)
    if not 0 < port < 65536:
        raise _refuse(raw, f"has a port out of range ({port})")
    return port


def _ipv6(raw: str, text: str) -> str:
    if "%" in text:
        raise _refuse(raw, "has an IPv6 zone identifier, which is not fetched")
    try:
        return ipaddress.IPv6Address(text).compressed
    except ValueError:
        raise _refuse(raw, f"has an invalid IPv6 address [{text}]") from None


def _hostname(raw: str, text: str) -> str:
    if not text:
        raise _refuse(raw, "has no host")
    if "%" in text:
        raise _refuse(raw, "has a percent-encoded host")
    if text.endswith("."):
        raise _refuse(raw, "has a host ending with a dot")
    if not text.isascii() or "xn--" in text.lower():
        try:
            # UTS 46 maps full-width digits and dots too, so "１２７．０．０．１" meets the
            # numeric rules below as the 127.0.0.1 it is.
            text = idna.encode(text, uts46=True).decode("ascii")
            idna.decode(text)  # a malformed xn-- label is refused, not passed on
        except (idna.IDNAError, UnicodeError, ValueError) as exc:
            raise _refuse(raw, f"has a host that is not a valid domain name ({exc})") from None
    host = text.lower()
    if host.endswith("."):
        raise _refuse(raw, "has a host ending with a dot")
    labels = host.split(".")
    if len(host) > 253 or not all(_LABEL.match(label) for label in labels):
        raise _refuse(raw, f"has an invalid host name {host!r}")
    last = labels[-1]
    if last.isdigit() or _HEX_LABEL.match(last):
        # Browsers and C libraries read any host ending in a number as IPv4, in decimal,
        # octal or hex, with 1 to 4 parts. Only the one unambiguous form is accepted.
        parts = labels
        if len(parts) != 4 or not all(
            p.isdigit() and (p == "0" or not p.startswith("0")) and int(p) <= 255 for p in parts
        ):
            raise _refuse(
                raw,
                f"has a numeric host {host!r} that is not a dotted-quad IPv4 address "
                "(shortened, octal and hex forms are ambiguous)",
            )
    return host


def parse_url(raw: str) -> SafeURL:
    """Parse ``raw`` strictly into a SafeURL, or raise BadURL naming the problem."""
    if not isinstance(raw, str):
        raise BadURL(f"a URL must be text, not {type(raw).__name__}")
    if len(raw) > MAX_URL_LENGTH:
        raise _refuse(raw, f"is longer than {MAX_URL_LENGTH} characters")
    _check_characters(raw, raw)
    match = _SCHEME.match(raw)
    if match is None:
        raise _refuse(raw, "has no scheme; only http:// and https:// URLs are fetched")
    scheme = match.group(1).lower()
    if scheme not in DEFAULT_PORTS:
        raise _refuse(raw, f"has the scheme {scheme}:; only http and https are fetched")
    rest = raw[match.end() :]
    if not rest.startswith("//") or rest.startswith("///"):
        raise _refuse(raw, f"must have //host after {scheme}:")
    rest = rest[2:]
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    authority, tail = rest[:end], rest[end:]
    if "@" in authority:
        raise _refuse(raw, "carries user information (user@host); such URLs are not fetched")
    target = tail.split("#", 1)[0]  # a fragment is never sent
    if not target.isascii():
        raise _refuse(raw, "has non-ASCII characters in its path or query; percent-encode them")
    if _BAD_ESCAPE.search(target):
        raise _refuse(raw, "has a malformed percent escape")
    if not target.startswith("/"):
        target = "/" + target  # "" or "?q": the path is "/"
    if authority.startswith("["):
        close = authority.find("]")
        if close < 0:
            raise _refuse(raw, "has an unclosed IPv6 bracket")
        host = _ipv6(raw, authority[1:close])
        after = authority[close + 1 :]
        if after and not after.startswith(":"):
            raise _refuse(raw, "has characters after its IPv6 address")
        port_text = after[1:] if after else None
    else:
        if authority.count(":") > 1:
            raise _refuse(raw, "has several ':' in its host (IPv6 addresses go in brackets)")
        host_text, colon, port_text_raw = authority.partition(":")
        port_text = port_text_raw if colon else None
        host = _hostname(raw, host_text)
    port = DEFAULT_PORTS[scheme] if port_text is None else _port(raw, port_text)
    return SafeURL(scheme=scheme, host=host, port=port, target=target)
