"""Hosts that users name (a workspace's SMTP server) are reached from inside the platform's
network: only public addresses may be, or any user could make the platform connect to its own
services, its cloud's metadata endpoint or its neighbours (server-side request forgery).

A name is judged by every address it resolves to, and judged again when it is connected to, on
the address that is then connected (a name may resolve elsewhere by then). Numeric spellings
(2130706433, 0x7f000001, 127.1) resolve like any name, so they are judged by what they mean."""

from __future__ import annotations

import ipaddress
import socket


class NotPublic(ValueError):
    """The host is, or resolves to, an address inside a private, local or special network."""


class Unresolvable(NotPublic):
    pass


def _public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not (address.is_multicast or address.is_reserved or address.is_unspecified)


def public_addresses(host: str, port: int, *, allow_private: bool = False) -> list[str]:
    """The addresses `host` resolves to, when every one of them is public (any, when the operator
    allows private hosts); else NotPublic, or Unresolvable when the name does not resolve."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, ValueError) as error:
        raise Unresolvable(f"{host} does not resolve ({error}).") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in found))
    if not allow_private:
        for address in addresses:
            if not _public(ipaddress.ip_address(address.split("%", 1)[0])):
                raise NotPublic(f"{host} is {address}, an address inside a private, local or special-purpose network.")
    return addresses
