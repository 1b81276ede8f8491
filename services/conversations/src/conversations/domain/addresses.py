"""Which hosts and addresses an integrator's callback may reach: public ones only.

Two checks share these rules. When a `callback_url` is saved, its host is normalised the way
an HTTP client will read it (IDNA, so `127。0。0。1` is `127.0.0.1`; the legacy IPv4 forms
`2130706433`, `0x7f000001`, `0177.0.0.1`, `127.1` and `0` that resolvers still accept) and
refused when it is an address that is not public, or a name that can only be internal
(`localhost`, a single label such as a cluster service, `.internal`, `.svc`...). When a reply
is sent, every address the name resolves to must be public (delivery/guard.py): a name can
point anywhere, and can change between the two checks.

Public means `ipaddress`'s `is_global` and not multicast or reserved, and for IPv6 the IPv4
address it carries (IPv4-mapped, 6to4, NAT64, Teredo) must be public too: `2002:7f00:1::`
is loopback by another name.
"""

from __future__ import annotations

import ipaddress
import re
import socket

import idna

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.IPv6Network("64:ff9b:1::/48")
# Names that never resolve to the integrator's server on the internet (RFC 6761, 6762
# appendix G, 8375, 9476) and the suffixes a Kubernetes cluster resolves internally.
_INTERNAL_SUFFIXES = (
    "localhost",
    "local",
    "internal",
    "intranet",
    "lan",
    "home",
    "corp",
    "private",
    "home.arpa",
    "arpa",
    "test",
    "invalid",
    "onion",
    "alt",
    "svc",
    "cluster.local",
)
_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")


class UnsafeHost(ValueError):
    """A host a callback must not reach; the message says why, for a 422 or a failed reply."""


def embedded_ipv4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address routes to, by the transition mechanisms."""
    found: list[ipaddress.IPv4Address] = []
    if ip.ipv4_mapped is not None:
        found.append(ip.ipv4_mapped)
    if ip.sixtofour is not None:
        found.append(ip.sixtofour)
    if ip.teredo is not None:
        found.extend(ip.teredo)
    if ip in _NAT64:
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


def is_public(ip: IPAddress) -> bool:
    """Reachable on the internet, and not a way back into ours."""
    if not ip.is_global or ip.is_multicast or ip.is_reserved or ip.is_unspecified:
        return False
    if ip.is_loopback or ip.is_link_local or ip.is_private:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.is_site_local or ip in _NAT64_LOCAL:
            return False
        return all(is_public(v4) for v4 in embedded_ipv4(ip))
    return True


def is_loopback(ip: IPAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped.is_loopback
    return ip.is_loopback


def parse_address(value: str) -> IPAddress:
    """An address as a resolver gives it (an IPv6 zone, `%eth0`, is dropped)."""
    return ipaddress.ip_address(value.split("%", 1)[0])


def _ipv4_literal(host: str) -> ipaddress.IPv4Address | None:
    """The address a host written as IPv4 means, in any notation resolvers accept.

    As the WHATWG URL standard reads it: a host whose last label is a number (decimal, or
    hex with 0x) is an IPv4 address, so `127.1`, `2130706433` and `0x7f.0.0.1` are all
    127.0.0.1 to a resolver; `inet_aton` parses exactly those forms (octal included)."""
    last = host.rstrip(".").rsplit(".", 1)[-1]
    if not _NUMERIC_LABEL.match(last):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host.rstrip(".")))
    except OSError:
        raise UnsafeHost("callback_url has a host that is not a valid address") from None


def normalise_host(host: str) -> str:
    """The host as the HTTP client sends it: lower case, IDNA (ASCII) for other scripts, so
    ideographic and full-width dots and digits become what they stand for."""
    host = host.lower()
    if host.isascii():
        return host
    try:
        return idna.encode(host, uts46=True).decode("ascii")
    except idna.IDNAError:
        raise UnsafeHost("callback_url has a host name that is not valid (IDNA)") from None


def host_address(host: str) -> IPAddress | None:
    """The address a (normalised) host is written as, or None for a name."""
    if ":" in host:  # IPv6, from inside the brackets
        try:
            return parse_address(host)
        except ValueError:
            raise UnsafeHost("callback_url has a host that is not a valid address") from None
    return _ipv4_literal(host)


def check_callback_host(host: str, *, allow_loopback: bool = False) -> str:
    """The normalised host (an address in its canonical form), or UnsafeHost: an address
    that is not public (loopback only where allowed), or a name that can only be internal.
    Names are resolved at send time."""
    host = normalise_host(host)
    address = host_address(host)
    if address is not None:  # kept in its one canonical spelling (`127.1` is 127.0.0.1)
        if allow_loopback and is_loopback(address):
            return str(address)
        if not is_public(address):
            raise UnsafeHost(f"callback_url must be a public address ({address} is not)")
        return str(address)
    name = host.rstrip(".")
    if allow_loopback and (name == "localhost" or name.endswith(".localhost")):
        return host
    if not re.fullmatch(r"[a-z0-9_.-]+", name):
        raise UnsafeHost("callback_url has a host name that is not valid")
    if "." not in name:
        raise UnsafeHost(
            f"callback_url must be a public address ({name} is not a fully qualified name)"
        )
    if any(name == s or name.endswith("." + s) for s in _INTERNAL_SUFFIXES):
        raise UnsafeHost(f"callback_url must be a public address ({name} is an internal name)")
    return host
