"""Integrator callbacks reach public addresses only, and exactly the address that was checked.

A `callback_url` was checked when it was saved, but a name can resolve anywhere, and to
something else a second later (DNS rebinding). So the check happens where the connection is
made: the callback client's network backend resolves the host once (async getaddrinfo),
refuses the connection when any address is not public (domain/addresses.py: loopback,
private, link-local, shared, reserved, multicast, or an IPv6 address carrying one of those),
and connects to the addresses it checked, never resolving the name again. TLS still sees
the host name (SNI and certificate checks), and the `Host` header is untouched, since the
connection pool and the request keep the URL's own host.

Loopback is allowed only with `CALLBACK_ALLOW_LOOPBACK_HTTP=true`, which the tests set to
reach their loopback fakes. The client follows no redirects and reads no proxy settings from
the environment (a proxy would resolve the name itself).
"""

from __future__ import annotations

import asyncio
import socket
import typing
from collections.abc import Awaitable, Callable

import httpcore
import httpx

from conversations.domain.addresses import is_loopback, is_public, parse_address

Resolver = Callable[[str, int], Awaitable[list[str]]]


class RefusedAddress(Exception):
    """The callback's host is, or resolves to, an address a callback must not reach."""


async def system_resolver(host: str, port: int) -> list[str]:
    """Every address of `host`, as the system resolver gives them, without blocking the loop."""
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class AddressGuard(httpcore.AsyncNetworkBackend):
    """httpcore's network backend, with the address check between resolving and connecting."""

    def __init__(
        self,
        allow_loopback: bool,
        resolve: Resolver = system_resolver,
        inner: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        self.allow_loopback = allow_loopback
        self.resolve = resolve
        self.inner = inner or httpcore.AnyIOBackend()

    async def checked_addresses(self, host: str, port: int) -> list[str]:
        """The addresses to connect to, every one of them allowed; RefusedAddress otherwise."""
        try:
            addresses = [str(parse_address(host))]  # an address literal: nothing to resolve
        except ValueError:
            addresses = await self.resolve(host, port)  # a name (or a legacy IPv4 form)
        if not addresses:
            raise httpcore.ConnectError(f"{host} has no address")
        for address in addresses:
            ip = parse_address(address)
            if not (is_public(ip) or (self.allow_loopback and is_loopback(ip))):
                shown = host if host == address else f"{host} resolves to {ip}, which"
                raise RefusedAddress(f"{shown} is not a public address")
        return addresses

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):  # resolving is part of connecting
                addresses = await self.checked_addresses(host, port)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host} took over {timeout}s") from None
        except OSError as exc:  # socket.gaierror: the name does not resolve (now)
            raise httpcore.ConnectError(f"{host} could not be resolved ({exc})") from None
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self.inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise RefusedAddress("callbacks do not use unix sockets")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport over a connection pool that connects through an AddressGuard.

    httpx takes no network backend, so the pool it would build is replaced: this relies on
    `AsyncHTTPTransport._pool` (httpx 0.28), which is why conversations pins httpx below 0.29.
    """

    def __init__(self, guard: AddressGuard, limits: httpx.Limits) -> None:
        # Not super().__init__(): it would build (and load certificates for) a pool unused.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=guard,
        )


def guarded_client(guard: AddressGuard, timeout: httpx.Timeout) -> httpx.AsyncClient:
    """The client callbacks are sent with: guarded, no redirects, no proxies from the env."""
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
    return httpx.AsyncClient(
        transport=GuardedTransport(guard, limits),
        timeout=timeout,
        follow_redirects=False,
        trust_env=False,
    )
