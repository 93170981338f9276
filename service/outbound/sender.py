"""Sends one signed webhook attempt through the SSRF-guarded transport."""

from __future__ import annotations

import ssl
from collections.abc import Sequence

import httpx

from service.outbound import signing
from service.outbound.ssrf import AddressPolicy, BlockedConnection, GuardedTransport

USER_AGENT = "countersign-webhooks/0.1"
MAX_ERROR_CHARS = 300

SendResult = tuple[int | None, str | None]


class WebhookSender:
    """One pooled client for every delivery; ``send`` never raises for network errors.

    Redirects are never followed: a 3xx answer is a failed attempt like any non-2xx.
    The response body is never read.
    """

    def __init__(
        self,
        *,
        allow: Sequence[str] = (),
        timeout: float = 10.0,
        max_attempts: int = 20,
        verify: ssl.SSLContext | bool = True,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.allow = tuple(allow)
        self.max_attempts = max_attempts  # the dispatcher's give-up point for this sender
        self._transport = transport or GuardedTransport(AddressPolicy(self.allow), verify=verify)
        self._timeout = timeout
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                transport=self._transport,
                timeout=self._timeout,
                follow_redirects=False,
                trust_env=False,
                headers={"user-agent": USER_AGENT},
            )
        return self._client

    async def send(self, url: str, *, msg_id: str, body: bytes, secret: str) -> SendResult:
        """``(status, None)`` when the receiver answered, ``(None, error)`` when not."""
        headers = {
            "content-type": "application/json",
            **signing.headers(secret, msg_id, body),
        }
        try:
            async with self._http().stream("POST", url, content=body, headers=headers) as reply:
                return reply.status_code, None
        except BlockedConnection as exc:
            return None, _short(f"blocked: {exc}")
        except httpx.TimeoutException:
            return None, "timeout"
        except httpx.HTTPError as exc:
            return None, _short(f"{type(exc).__name__}: {exc}")
        except httpx.InvalidURL:
            return None, "invalid URL"
        except Exception as exc:  # a delivery attempt never takes the dispatcher down
            return None, _short(type(exc).__name__)

    async def aclose(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
        else:
            await self._transport.aclose()


def _short(text: str) -> str:
    return text if len(text) <= MAX_ERROR_CHARS else text[: MAX_ERROR_CHARS - 1] + "…"
