"""Address policies: what PUBLIC and PLATFORM let a fetch reach."""

from __future__ import annotations

import ipaddress

import pytest

from lti_app.outbound import PLATFORM, PUBLIC

NEVER = [
    "0.0.0.0",
    "::",
    "169.254.169.254",  # cloud metadata
    "fe80::1",
    "224.0.0.1",
    "ff02::1",
    "240.0.0.1",
    "255.255.255.255",
    "::ffff:127.0.0.1",
    "::ffff:169.254.169.254",
    "::7f00:1",  # IPv4-compatible
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
]
PRIVATE = [
    "127.0.0.1",
    "127.8.9.10",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "::1",
    "fd00::1",
    "100.64.0.1",
    "2002:7f00:1::1",
]  # the last is 6to4 of 127.0.0.1
GLOBAL = ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "93.184.216.34"]


@pytest.mark.parametrize("address", NEVER)
def test_some_addresses_are_never_reached(address: str):
    ip = ipaddress.ip_address(address)
    assert PUBLIC.refusal(ip) is not None
    assert PLATFORM.refusal(ip) is not None


@pytest.mark.parametrize("address", PRIVATE)
def test_private_addresses_are_for_platforms_only(address: str):
    ip = ipaddress.ip_address(address)
    assert "non-public" in (PUBLIC.refusal(ip) or "")
    assert PLATFORM.refusal(ip) is None


@pytest.mark.parametrize("address", GLOBAL)
def test_public_addresses_are_reached_by_both(address: str):
    ip = ipaddress.ip_address(address)
    assert PUBLIC.refusal(ip) is None
    assert PLATFORM.refusal(ip) is None


def test_an_exemption_admits_exactly_its_network():
    policy = PUBLIC.with_exempt(["127.0.0.2/32"])
    assert policy.refusal(ipaddress.ip_address("127.0.0.2")) is None
    assert policy.refusal(ipaddress.ip_address("127.0.0.1")) is not None
    assert PUBLIC.refusal(ipaddress.ip_address("127.0.0.2")) is not None  # PUBLIC unchanged
