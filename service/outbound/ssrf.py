"""Where webhooks may go: the SSRF policy, at registration and again at connect time.

A URL is checked when it is registered (``check_url``: scheme, no userinfo, the host and
every address it resolves to) and every connection made for a delivery goes through
``GuardedBackend``, which resolves the host itself, checks each address with the same
policy and connects to the checked address only. A name that resolved to a public address
at registration and to ``127.0.0.1`` later (DNS rebinding) is refused at connect time.
TLS still verifies and sends SNI for the host name: only the TCP connect uses the address.

Refused: loopback, private (RFC 1918), shared/CGNAT (100.64/10), link-local (169.254/16 with
the cloud metadata address, fe80::/10), unique-local (fc00::/7), site-local, multicast,
unspecified, reserved and other non-global ranges, ``0.0.0.0/8``; IPv4 embedded in IPv6
(mapped ``::ffff:a.b.c.d``, NAT64, 6to4) is checked as the IPv4 it carries; IPv4 in any form
but dotted decimal (``2130706433``, ``0177.0.0.1``, ``0x7f.1``); ``localhost``,
``localhost.`` and ``*.localhost``. ``allow`` (configuration) lists CIDRs or exact host
names permitted anyway.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import ssl
import typing
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import httpcore
import httpx

from service.errors import InvalidInput

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_URL_LENGTH = 2048
RESOLVE_TIMEOUT = 5.0
MAX_ADDRESSES = 4  # connect attempts per host, in resolver order

_THIS_NETWORK = ipaddress.IPv4Network("0.0.0.0/8")
_SHARED = ipaddress.IPv4Network("100.64.0.0/10")
_UNIQUE_LOCAL = ipaddress.IPv6Network("fc00::/7")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_HOST_RE = re.compile(r"[a-z0-9_-]{1,63}(\.[a-z0-9_-]{1,63})*\.?")
_NUMERIC_RE = re.compile(r"[0-9a-fx.]+")


class AddressRefused(Exception):
    """The policy refuses this host or address; the message says why (no secrets in it)."""


class BlockedConnection(httpx.ConnectError):
    """Raised by the guarded transport instead of connecting to a refused address."""


class _BlockedCore(httpcore.ConnectError):
    pass


def _embedded_v4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    if isinstance(ip, ipaddress.IPv4Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.sixtofour


def _dialable(ip: IPAddress) -> IPAddress:
    """An IPv4-mapped IPv6 address is dialled as the IPv4 address it is."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _literal(host: str) -> tuple[IPAddress | None, bool]:
    """``(address, canonical)`` when ``host`` is an IP literal in any notation."""
    try:
        return ipaddress.ip_address(host), True
    except ValueError:
        pass
    if _NUMERIC_RE.fullmatch(host) and any(c.isdigit() for c in host):
        try:  # the C library's reading: decimal, octal and hex parts, 1 to 4 of them
            return ipaddress.IPv4Address(socket.inet_aton(host)), False
        except OSError:
            return None, True
    return None, True


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to (``getaddrinfo`` in the loop's executor)."""
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    found: list[IPAddress] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        ip = ipaddress.ip_address(str(sockaddr[0]))
        if ip not in found:
            found.append(ip)
    return found


class AddressPolicy:
    """The refusal rules plus the configured exceptions (``allow``: CIDRs or host names)."""

    def __init__(self, allow: Iterable[str] = ()) -> None:
        networks: list[IPNetwork] = []
        hosts: set[str] = set()
        for raw in allow:
            entry = raw.strip().lower()
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                name = entry.rstrip(".")
                if not _HOST_RE.fullmatch(name):
                    raise ValueError(
                        f"webhook allow-list entry {raw!r} is not a CIDR or host"
                    ) from None
                hosts.add(name)
        self.networks = tuple(networks)
        self.hosts = frozenset(hosts)

    def refusal(self, ip: IPAddress) -> str | None:
        """Why ``ip`` may not be connected to, or None when it may."""
        embedded = _embedded_v4(ip)
        if embedded is not None:
            ip = embedded
        if any(ip.version == net.version and ip in net for net in self.networks):
            return None
        checks: tuple[tuple[bool, str], ...] = (
            (ip.is_loopback, "loopback"),
            (ip.is_unspecified, "unspecified"),
            (ip.is_link_local, "link-local"),
            (ip.is_multicast, "multicast"),
            (isinstance(ip, ipaddress.IPv4Address) and ip in _THIS_NETWORK, "this-network"),
            (isinstance(ip, ipaddress.IPv4Address) and ip in _SHARED, "shared (CGNAT)"),
            (isinstance(ip, ipaddress.IPv6Address) and ip in _UNIQUE_LOCAL, "unique-local"),
            (isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local, "site-local"),
            (ip.is_private, "private"),
            (ip.is_reserved, "reserved"),
            (not ip.is_global, "non-global"),
        )
        for refused, reason in checks:
            if refused:
                return f"{ip} ({reason} address)"
        return None

    def check_ip(self, ip: IPAddress) -> None:
        reason = self.refusal(ip)
        if reason is not None:
            raise AddressRefused(f"Webhook URLs may not point to {reason}.")

    async def vet(self, host: str, port: int, *, timeout: float | None = None) -> list[IPAddress]:
        """The addresses ``host`` may be reached at; raises ``AddressRefused``."""
        host = host.lower()
        name = host.rstrip(".")
        literal, canonical = _literal(name)
        if literal is not None:
            if not canonical:
                raise AddressRefused("IPv4 addresses must be written in dotted-decimal form.")
            self.check_ip(literal)
            return [_dialable(literal)]
        if not _HOST_RE.fullmatch(name):
            raise AddressRefused("The webhook URL's host is not a valid host name.")
        allowed_by_name = name in self.hosts
        if not allowed_by_name and (name == "localhost" or name.endswith(".localhost")):
            raise AddressRefused("Webhook URLs may not point to localhost.")
        try:
            addresses = await asyncio.wait_for(resolve(host, port), timeout or RESOLVE_TIMEOUT)
        except (OSError, TimeoutError, UnicodeError, ValueError):
            raise AddressRefused("The webhook URL's host does not resolve.") from None
        if not addresses:
            raise AddressRefused("The webhook URL's host does not resolve.")
        if not allowed_by_name:
            for ip in addresses:
                self.check_ip(ip)
        return [_dialable(ip) for ip in addresses]


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int


def parse_target(url: str) -> Target:
    """Scheme, host and port of an absolute http(s) URL without userinfo (else InvalidInput)."""
    if not isinstance(url, str) or not url.strip():
        raise InvalidInput("A webhook URL is required.")
    if len(url) > MAX_URL_LENGTH:
        raise InvalidInput(f"Webhook URLs are limited to {MAX_URL_LENGTH} characters.")
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        raise InvalidInput("Webhook URLs may not contain whitespace or control characters.")
    try:
        parsed = httpx.URL(url)
        port = parsed.port
    except (httpx.InvalidURL, ValueError, TypeError):
        raise InvalidInput("The webhook URL is not a valid URL.") from None
    if parsed.scheme not in ("http", "https"):
        raise InvalidInput("Webhook URLs must be absolute http:// or https:// URLs.")
    if parsed.raw_host == b"":
        raise InvalidInput("The webhook URL needs a host.")
    authority = re.split(r"[/?#]", url.split("//", 1)[-1], maxsplit=1)[0]
    if parsed.userinfo or "@" in authority:
        raise InvalidInput("Webhook URLs may not contain credentials (user:password@).")
    if port is not None and not 0 < port < 65536:
        raise InvalidInput("The webhook URL's port is out of range.")
    default = 443 if parsed.scheme == "https" else 80
    return Target(parsed.scheme, parsed.raw_host.decode("ascii"), port or default)


async def check_url(url: str, *, allow: Sequence[str] = ()) -> str:
    """``url`` when webhooks may be sent to it; InvalidInput with the reason otherwise."""
    target = parse_target(url)
    try:
        await AddressPolicy(allow).vet(target.host, target.port)
    except AddressRefused as exc:
        raise InvalidInput(str(exc)) from None
    return url


# ---- connect-time guard ------------------------------------------------------------


class GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves, checks and connects to a checked address; never to anything else."""

    def __init__(
        self, policy: AddressPolicy, inner: httpcore.AsyncNetworkBackend | None = None
    ) -> None:
        self.policy = policy
        self.inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await self.policy.vet(host, port, timeout=timeout)
        except AddressRefused as exc:
            raise _BlockedCore(str(exc)) from None
        failure: Exception | None = None
        for ip in addresses[:MAX_ADDRESSES]:
            try:
                return await self.inner.connect_tcp(
                    str(ip),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore.ConnectError as exc:
                failure = exc
        assert failure is not None
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise _BlockedCore("Unix sockets are not webhook targets.")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


_CORE_TO_HTTPX: dict[type[Exception], type[httpx.HTTPError]] = {
    _BlockedCore: BlockedConnection,
    httpcore.ConnectTimeout: httpx.ConnectTimeout,
    httpcore.ReadTimeout: httpx.ReadTimeout,
    httpcore.WriteTimeout: httpx.WriteTimeout,
    httpcore.PoolTimeout: httpx.PoolTimeout,
    httpcore.TimeoutException: httpx.TimeoutException,
    httpcore.ConnectError: httpx.ConnectError,
    httpcore.ReadError: httpx.ReadError,
    httpcore.WriteError: httpx.WriteError,
    httpcore.NetworkError: httpx.NetworkError,
    httpcore.UnsupportedProtocol: httpx.UnsupportedProtocol,
    httpcore.RemoteProtocolError: httpx.RemoteProtocolError,
    httpcore.LocalProtocolError: httpx.LocalProtocolError,
    httpcore.ProtocolError: httpx.ProtocolError,
}


@contextmanager
def _httpx_errors() -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        for kind in type(exc).__mro__:  # the most specific mapping wins
            mapped = _CORE_TO_HTTPX.get(kind)
            if mapped is not None:
                raise mapped(str(exc)) from exc
        raise


class _ResponseStream(httpx.AsyncByteStream):
    def __init__(self, stream: typing.AsyncIterable[bytes]) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _httpx_errors():
            async for part in self._stream:
                yield part

    async def aclose(self) -> None:
        close = getattr(self._stream, "aclose", None)
        if close is not None:
            await close()


class GuardedTransport(httpx.AsyncBaseTransport):
    """An httpx transport whose every connection goes through ``GuardedBackend``."""

    def __init__(
        self,
        policy: AddressPolicy,
        *,
        verify: ssl.SSLContext | bool = True,
        max_connections: int = 100,
        max_keepalive_connections: int = 20,
        keepalive_expiry: float = 5.0,
        network_backend: httpcore.AsyncNetworkBackend | None = None,
    ) -> None:
        ssl_context = (
            verify if isinstance(verify, ssl.SSLContext) else httpx.create_ssl_context(verify)
        )
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=ssl_context,
            max_connections=max_connections,
            max_keepalive_connections=max_keepalive_connections,
            keepalive_expiry=keepalive_expiry,
            http1=True,
            http2=False,
            network_backend=GuardedBackend(policy, network_backend),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol("Webhooks use http or https only.")
        assert isinstance(request.stream, httpx.AsyncByteStream)
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _httpx_errors():
            response = await self._pool.handle_async_request(core_request)
        assert isinstance(response.stream, typing.AsyncIterable)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_ResponseStream(response.stream),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._pool.aclose()
