"""Hosts a workspace names are reached from inside the platform: only public addresses are."""

from __future__ import annotations

import pytest

from mpdp_common.addresses import NotPublic, public_addresses

INTERNAL = [
    "127.0.0.1",
    "localhost",
    "169.254.169.254",
    "10.0.0.1",
    "172.16.5.4",
    "192.168.1.1",
    "100.64.0.1",
    "0.0.0.0",
    "2130706433",
    "0x7f000001",
    "127.1",
    "0177.0.0.1",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "::ffff:127.0.0.1",
    "ff02::1",
]


@pytest.mark.parametrize("host", INTERNAL)
def test_internal_addresses_in_any_spelling_are_refused(host):
    with pytest.raises(NotPublic):
        public_addresses(host, 25)


@pytest.mark.parametrize("host", ["8.8.8.8", "2606:4700:4700::1111", "93.184.215.14"])
def test_public_addresses_pass(host):
    assert public_addresses(host, 25)


def test_an_operator_may_allow_private_hosts():
    assert public_addresses("127.0.0.1", 25, allow_private=True) == ["127.0.0.1"]


def test_a_host_that_does_not_resolve_is_refused():
    with pytest.raises(NotPublic, match="resolve"):
        public_addresses("no-such-host.invalid", 25)
