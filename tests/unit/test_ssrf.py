"""S6: webhook URLs are checked at registration and again at connect time (0 hits)."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType

import pytest

from service.errors import InvalidInput
from service.outbound import ssrf
from service.outbound.sender import USER_AGENT, WebhookSender
from service.outbound.signing import new_secret, verify
from service.outbound.ssrf import AddressPolicy, IPAddress, check_url


@dataclass
class Hit:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A minimal HTTP/1.1 server on 127.0.0.1 that records every request it gets.

    ``statuses`` are answered in order, then ``default``; ``location`` adds a redirect.
    """

    statuses: Sequence[int] = ()
    default: int = 200
    location: str | None = None
    hits: list[Hit] = field(default_factory=list)
    port: int = 0
    _queue: list[int] = field(default_factory=list)
    _server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def __aenter__(self) -> Receiver:
        self._queue = list(self.statuses)
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
            request_line, *lines = head.split("\r\n")
            method, path, _ = request_line.split(" ", 2)
            headers = {}
            for line in lines:
                name, sep, value = line.partition(":")
                if sep:
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            self.hits.append(Hit(method, path, headers, body))
            status = self._queue.pop(0) if self._queue else self.default
            extra = f"location: {self.location}\r\n" if self.location else ""
            writer.write(
                f"HTTP/1.1 {status} Status\r\ncontent-length: 0\r\nconnection: close\r\n"
                f"{extra}\r\n".encode()
            )
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


def fake_dns(answers: dict[str, list[str]]) -> Callable[[str, int], Awaitable[list[IPAddress]]]:
    """A stand-in for ``ssrf.resolve`` (the only resolver the policy uses)."""

    async def resolve(host: str, port: int) -> list[IPAddress]:
        name = host.rstrip(".")
        if name not in answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [ipaddress.ip_address(a) for a in answers[name]]

    return resolve


S6_PROBES = [
    "http://127.0.0.1/hook",
    "http://127.1.2.3/",
    "http://10.0.0.1/",
    "http://172.16.0.1/",
    "http://172.31.255.254/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://0.0.0.0/",
    "http://[::1]/",
    "http://[::]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:169.254.169.254]/",
    "http://[fd00::1]/",
    "http://[fe80::1]/",
    "http://[ff02::1]/",
    "http://224.0.0.1/",
    "http://[64:ff9b::7f00:1]/",
    "http://[2002:7f00:1::]/",
    "http://2130706433/",
    "http://0177.0.0.1/",
    "http://0x7f000001/",
    "http://0x7f.1/",
    "http://127.1/",
    "http://localhost/",
    "http://localhost./",
    "http://LOCALHOST:8080/",
    "http://foo.localhost/",
    "http://foo.localhost./",
    "ftp://x/",
    "file:///etc/passwd",
    "gopher://127.0.0.1:6379/_PING",
    "javascript:alert(1)",
    "/hook",
    "hook",
    "",
    "http://user:pw@example.com/",
    "http://user@93.184.216.34/",
    "https://93.184.216.34:99999/",
    "http:///hook",
    "http://exa mple.com/",
    "http://93.184.216.34/\r\nx-injected: 1",
]


class TestRegistration:
    @pytest.mark.parametrize("url", S6_PROBES)
    async def test_refused(self, url: str, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(ssrf, "resolve", fake_dns({}))  # no probe may need DNS to fail
        with pytest.raises(InvalidInput):
            await check_url(url, allow=[])

    async def test_public_ip_and_public_name_pass(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(ssrf, "resolve", fake_dns({"hooks.example.com": ["93.184.216.34"]}))
        assert await check_url("http://93.184.216.34/hook", allow=[]) == (
            "http://93.184.216.34/hook"
        )
        assert await check_url("https://hooks.example.com:8443/x?a=b", allow=[])
        assert await check_url("https://[2606:4700:4700::1111]/", allow=[])

    @pytest.mark.parametrize(
        "answers",
        [["10.0.0.7"], ["93.184.216.34", "127.0.0.1"], ["::1"], ["169.254.169.254"]],
    )
    async def test_names_resolving_to_internal_addresses_are_refused(
        self, answers: list[str], monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(ssrf, "resolve", fake_dns({"evil.example.com": answers}))
        with pytest.raises(InvalidInput, match="may not point"):
            await check_url("https://evil.example.com/hook", allow=[])

    async def test_unresolvable_names_are_refused(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(ssrf, "resolve", fake_dns({}))
        with pytest.raises(InvalidInput, match="does not resolve"):
            await check_url("https://nowhere.example.com/hook", allow=[])

    async def test_allow_list_permits_cidrs_and_exact_names(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(ssrf, "resolve", fake_dns({"receiver.internal": ["10.1.2.3"]}))
        allow = ["127.0.0.1/32", "receiver.internal"]
        assert await check_url("http://127.0.0.1:9999/hook", allow=allow)
        assert await check_url("http://[::ffff:127.0.0.1]:9999/hook", allow=allow)
        assert await check_url("http://receiver.internal/hook", allow=allow)
        for url in ("http://127.0.0.2/", "http://10.1.2.3/", "http://localhost/"):
            with pytest.raises(InvalidInput):
                await check_url(url, allow=allow)

    def test_allow_list_entries_must_be_cidrs_or_hosts(self) -> None:
        with pytest.raises(ValueError, match="allow-list"):
            AddressPolicy(["10.0.0.0/8", "not a host!"])


class TestConnectTimeGuard:
    """Whatever was registered, a delivery connects only to addresses the policy allows."""

    async def test_dns_rebinding_to_loopback_is_refused_with_zero_hits(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(ssrf, "resolve", fake_dns({"rebind.example.com": ["127.0.0.1"]}))
        sender = WebhookSender(allow=[])
        try:
            async with Receiver() as receiver:
                url = f"http://rebind.example.com:{receiver.port}/hook"
                status, error = await sender.send(
                    url, msg_id="evt-1", body=b"{}", secret=new_secret()
                )
                assert status is None
                assert error is not None
                assert error.startswith("blocked")
                assert receiver.hits == []
        finally:
            await sender.aclose()

    async def test_literal_internal_address_is_refused_with_zero_hits(self) -> None:
        sender = WebhookSender(allow=[])
        try:
            async with Receiver() as receiver:
                for url in (receiver.url, f"http://[::ffff:127.0.0.1]:{receiver.port}/hook"):
                    status, error = await sender.send(
                        url, msg_id="evt-1", body=b"{}", secret=new_secret()
                    )
                    assert status is None
                    assert error is not None
                    assert error.startswith("blocked")
                assert receiver.hits == []
        finally:
            await sender.aclose()

    async def test_allowed_name_connects_to_the_checked_address(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Positive control: the guard dials the resolved address, the Host stays the name."""
        monkeypatch.setattr(ssrf, "resolve", fake_dns({"hooks.example.com": ["127.0.0.1"]}))
        sender = WebhookSender(allow=["127.0.0.1/32"])
        secret = new_secret()
        try:
            async with Receiver() as receiver:
                url = f"http://hooks.example.com:{receiver.port}/hook?x=1"
                status, error = await sender.send(
                    url, msg_id="evt-9", body=b'{"a":1}', secret=secret
                )
                assert (status, error) == (200, None)
                (hit,) = receiver.hits
                assert hit.method == "POST"
                assert hit.path == "/hook?x=1"
                assert hit.headers["host"] == f"hooks.example.com:{receiver.port}"
                assert hit.headers["user-agent"] == USER_AGENT
                assert hit.headers["content-type"] == "application/json"
                assert hit.headers["webhook-id"] == "evt-9"
                verify(secret, hit.headers, hit.body)
        finally:
            await sender.aclose()

    async def test_allow_listed_literals_connect_in_either_notation(self) -> None:
        sender = WebhookSender(allow=["127.0.0.1/32"])
        try:
            async with Receiver() as receiver:
                for url in (receiver.url, f"http://[::ffff:127.0.0.1]:{receiver.port}/hook"):
                    status, error = await sender.send(
                        url, msg_id="evt-1", body=b"{}", secret=new_secret()
                    )
                    assert (status, error) == (200, None)
                assert len(receiver.hits) == 2
        finally:
            await sender.aclose()

    async def test_redirects_are_not_followed(self) -> None:
        sender = WebhookSender(allow=["127.0.0.1/32"])
        try:
            async with Receiver() as internal:
                async with Receiver(default=302, location=internal.url) as outer:
                    status, error = await sender.send(
                        outer.url, msg_id="evt-1", body=b"{}", secret=new_secret()
                    )
                    assert (status, error) == (302, None)
                    assert len(outer.hits) == 1
                assert internal.hits == []
        finally:
            await sender.aclose()

    async def test_network_errors_are_returned_not_raised(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]  # closed again before the send: nothing listens
        sender = WebhookSender(allow=["127.0.0.1/32"], timeout=2.0)
        try:
            status, error = await sender.send(
                f"http://127.0.0.1:{port}/hook", msg_id="evt-1", body=b"{}", secret=new_secret()
            )
            assert status is None
            assert error
            status, error = await sender.send(
                "ftp://127.0.0.1/hook", msg_id="evt-1", body=b"{}", secret=new_secret()
            )
            assert status is None
            assert error
        finally:
            await sender.aclose()
