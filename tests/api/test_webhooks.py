"""Webhooks over the API on both backends: subscriptions, the secret, signed deliveries.

Deliveries go to a real HTTP receiver on 127.0.0.1. The dispatcher is driven by calling
``dispatch_once`` with a sender allowed to reach the receiver; an in-app dispatcher may
deliver too, so assertions count by ``webhook-id`` and accept a duplicate only when its
body is identical.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from service.domain.principal import Principal
from service.outbound.sender import WebhookSender
from service.outbound.signing import SignatureError, verify
from service.services import webhook_dispatch
from tests.api.helpers import REFUND_INPUT, new_thread, ok, run_to_interrupt, wait_for_status
from tests.fixtures.app import Api
from tests.unit.test_ssrf import Hit, Receiver

LOOPBACK = ["127.0.0.1/32"]
PUBLIC_URL = "http://93.184.216.34/hooks/countersign"  # never called: no events in its tenant

REFUSED = [
    "http://127.0.0.2/hook",
    "http://10.0.0.1/hook",
    "http://172.16.0.1/hook",
    "http://192.168.0.1/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]/hook",
    "http://[::ffff:127.0.0.2]/hook",
    "http://[fd00::1]/hook",
    "http://2130706433/hook",
    "http://0177.0.0.1/hook",
    "http://0x7f000001/hook",
    "http://localhost./hook",
    "http://foo.localhost/hook",
    "ftp://example.com/hook",
    "file:///etc/passwd",
    "/hook",
    "http://user:pw@example.com/hook",
]


@pytest.fixture
async def sender() -> AsyncIterator[WebhookSender]:
    sender = WebhookSender(allow=LOOPBACK, timeout=5.0)
    try:
        yield sender
    finally:
        await sender.aclose()


def no_backoff(_attempts: int) -> float:
    return 0.0


async def dispatch_until(
    api: Api,
    sender: WebhookSender,
    done: Callable[[], bool],
    *,
    timeout: float = 20.0,
) -> None:
    """Run dispatcher passes (no backoff) until ``done()``."""
    owner = f"test-{uuid.uuid4().hex[:8]}"
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "webhook not delivered in time"
        await webhook_dispatch.dispatch_once(api.runtime, sender, owner=owner, backoff=no_backoff)
        await asyncio.sleep(0.02)


async def deliveries(client: httpx.AsyncClient, **params: str) -> list[dict[str, Any]]:
    return await ok(await client.get("/webhooks/deliveries", params=params))  # type: ignore[no-any-return]


async def settled(
    api: Api,
    sender: WebhookSender,
    client: httpx.AsyncClient,
    url: str,
    *,
    max_attempts: int = 20,
    timeout: float = 30.0,
) -> dict[str, Any]:
    """Dispatch (no backoff) until the tenant's delivery to ``url`` is not pending."""
    owner = f"test-{uuid.uuid4().hex[:8]}"
    deadline = time.monotonic() + timeout
    while True:
        rows = [d for d in await deliveries(client) if d["url"] == url]
        if rows and rows[0]["status"] != "pending":
            return rows[0]
        assert time.monotonic() < deadline, f"delivery stayed pending: {rows}"
        await webhook_dispatch.dispatch_once(
            api.runtime, sender, owner=owner, max_attempts=max_attempts, backoff=no_backoff
        )
        await asyncio.sleep(0.02)


def one_event(hits: list[Hit]) -> Hit:
    """The single event the receiver got (duplicates allowed only byte-identical)."""
    assert hits
    assert {h.headers["webhook-id"] for h in hits} == {hits[0].headers["webhook-id"]}
    assert {h.body for h in hits} == {hits[0].body}
    return hits[0]


async def start_run(client: httpx.AsyncClient, thread_id: str, webhook: str) -> dict[str, Any]:
    run = await ok(
        await client.post(
            f"/threads/{thread_id}/runs",
            json={"assistant_id": "refund_agent", "input": REFUND_INPUT, "webhook": webhook},
        ),
        200,
    )
    await wait_for_status(client, thread_id, run["run_id"], {"success"})
    return run  # type: ignore[no-any-return]


class TestSubscriptions:
    async def test_crud_and_the_secret_is_shown_once(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            created = await ok(
                await client.post(
                    "/webhooks",
                    json={
                        "url": PUBLIC_URL,
                        "events": ["run.completed", "interrupt.created", "run.completed"],
                        "description": "ops",
                    },
                ),
                201,
            )
            secret = created["secret"]
            assert secret.startswith("whsec_")
            assert created["url"] == PUBLIC_URL
            assert created["events"] == ["run.completed", "interrupt.created"]
            assert created["description"] == "ops"
            assert created["created_by"] == "alice"

            second = await ok(
                await client.post(
                    "/webhooks", json={"url": PUBLIC_URL + "/2", "events": ["interrupt.resolved"]}
                ),
                201,
            )
            assert second["secret"] is None

            listing = await client.get("/webhooks")
            assert listing.status_code == 200
            assert [w["id"] for w in listing.json()] == [created["id"], second["id"]]
            assert all("secret" not in w for w in listing.json())
            fetched = await client.get(f"/webhooks/{created['id']}")
            audit = await client.get("/audit", params={"limit": 100})
            for response in (listing, fetched, audit):
                assert response.status_code == 200
                assert secret not in response.text
                assert "whsec_" not in response.text
            assert {"webhook.create", "webhook.secret"} <= {e["action"] for e in audit.json()}

            response = await client.delete(f"/webhooks/{created['id']}")
            assert response.status_code == 204
            remaining = await ok(await client.get("/webhooks"))
            assert [w["id"] for w in remaining] == [second["id"]]
            again = await client.delete(f"/webhooks/{created['id']}")
            assert again.status_code == 404
            assert again.json()["code"] == "not_found"

    async def test_rotation_returns_a_new_secret_once(self, api: Api, tenant: str) -> None:
        async with api.client(tenant) as client:
            first = (await ok(await client.post("/webhooks/secret")))["secret"]
            second = (await ok(await client.post("/webhooks/secret")))["secret"]
            assert first.startswith("whsec_")
            assert second.startswith("whsec_")
            assert first != second
            created = await ok(
                await client.post(
                    "/webhooks", json={"url": PUBLIC_URL, "events": ["run.completed"]}
                ),
                201,
            )
            assert created["secret"] is None  # the tenant already has one
            for path in ("/webhooks", "/audit", "/webhooks/deliveries"):
                response = await client.get(path)
                assert response.status_code == 200
                assert "whsec_" not in response.text
            actions = [e["action"] for e in await ok(await client.get("/audit"))]
            assert actions.count("webhook.secret") == 2

    async def test_registration_refuses_internal_and_malformed_urls(
        self, api: Api, tenant: str
    ) -> None:
        async with api.client(tenant) as client:
            for url in REFUSED:
                response = await client.post(
                    "/webhooks", json={"url": url, "events": ["run.completed"]}
                )
                assert response.status_code == 422, url
                assert response.json()["code"] == "invalid_input"
            for events in ([], ["run.finished"], ["*"]):
                response = await client.post(
                    "/webhooks", json={"url": PUBLIC_URL, "events": events}
                )
                assert response.status_code == 422, events
            assert await ok(await client.get("/webhooks")) == []

    async def test_needs_the_webhooks_permission(self, api: Api, tenant: str) -> None:
        async with api.client(tenant, "eve", roles=("editor", "agent")) as client:
            body = {"url": PUBLIC_URL, "events": ["run.completed"]}
            assert (await client.post("/webhooks", json=body)).status_code == 403
            assert (await client.post("/webhooks/secret")).status_code == 403
            assert (await client.get("/webhooks")).status_code == 403
            assert (await client.get("/webhooks/deliveries")).status_code == 403

    async def test_tenants_cannot_see_or_delete_each_others(self, api: Api, tenant: str) -> None:
        other = f"{tenant}-b"
        async with api.client(tenant) as client_a, api.client(other) as client_b:
            created = await ok(
                await client_a.post(
                    "/webhooks", json={"url": PUBLIC_URL, "events": ["run.completed"]}
                ),
                201,
            )
            assert await ok(await client_b.get("/webhooks")) == []
            foreign = await client_b.delete(f"/webhooks/{created['id']}")
            unknown = await client_b.delete(f"/webhooks/{uuid.uuid4()}")
            assert foreign.status_code == unknown.status_code == 404
            assert foreign.content == unknown.content
            foreign_get = await client_b.get(f"/webhooks/{created['id']}")
            unknown_get = await client_b.get(f"/webhooks/{uuid.uuid4()}")
            assert foreign_get.status_code == unknown_get.status_code == 404
            assert foreign_get.content == unknown_get.content
            listed = await ok(await client_a.get("/webhooks"))
            assert [w["id"] for w in listed] == [created["id"]]


class TestDelivery:
    async def test_run_webhook_is_delivered_once_and_signed_by_its_tenant(
        self, api: Api, tenant: str, sender: WebhookSender
    ) -> None:
        other = f"{tenant}-b"
        async with (
            Receiver() as receiver,
            api.client(tenant) as client,
            api.client(other) as client_b,
        ):
            secret = (await ok(await client.post("/webhooks/secret")))["secret"]
            other_secret = (await ok(await client_b.post("/webhooks/secret")))["secret"]
            tid = (await new_thread(client))["thread_id"]
            run = await start_run(client, tid, receiver.url)
            row = await settled(api, sender, client, receiver.url)
            assert row["status"] == "delivered"
            assert row["last_status"] == 200
            assert row["attempts"] >= 1

            hit = one_event(receiver.hits)
            assert hit.headers["webhook-id"] == row["event_id"]
            verify(secret, hit.headers, hit.body)
            with pytest.raises(SignatureError):
                verify(other_secret, hit.headers, hit.body)
            posted = json.loads(hit.body)  # the run at the top level, as LangGraph Server posts
            assert posted["run_id"] == run["run_id"]
            assert posted["thread_id"] == tid
            assert posted["assistant_id"] == run["assistant_id"]
            assert posted["status"] == "success"
            assert posted["values"]["request"]["order_id"] == REFUND_INPUT["request"]["order_id"]
            assert posted["run_started_at"]
            assert posted["run_ended_at"]
            assert "data" not in posted
            assert "error" not in posted

            assert [d["id"] for d in await deliveries(client, event_id=row["event_id"])] == [
                row["id"]
            ]
            assert await deliveries(client_b, event_id=row["event_id"]) == []

    async def test_a_run_completed_subscription_gets_the_envelope_the_run_webhook_the_run(
        self, api: Api, tenant: str, sender: WebhookSender
    ) -> None:
        async with Receiver() as subscribed, Receiver() as own, api.client(tenant) as client:
            principal = Principal(tenant_id=tenant, subject="alice")
            await webhook_dispatch.create_subscription(
                api.runtime, principal, url=subscribed.url, events=["run.completed"], allow=LOOPBACK
            )
            tid = (await new_thread(client))["thread_id"]
            run = await start_run(client, tid, own.url)
            await dispatch_until(api, sender, lambda: bool(subscribed.hits and own.hits))
            envelope = json.loads(one_event(subscribed.hits).body)
            assert set(envelope) == {"type", "timestamp", "data"}
            assert envelope["data"]["run_id"] == run["run_id"]
            posted = json.loads(one_event(own.hits).body)
            assert posted["run_id"] == run["run_id"]
            assert "data" not in posted

    async def test_interrupt_created_reaches_subscribers(
        self, api: Api, tenant: str, sender: WebhookSender
    ) -> None:
        async with Receiver() as receiver, api.client(tenant) as client:
            principal = Principal(tenant_id=tenant, subject="alice")
            _, secret = await webhook_dispatch.create_subscription(
                api.runtime,
                principal,
                url=receiver.url,
                events=["interrupt.created"],
                allow=LOOPBACK,
            )
            assert secret is not None
            tid = (await new_thread(client))["thread_id"]
            joined = await run_to_interrupt(client, tid)
            await dispatch_until(api, sender, lambda: bool(receiver.hits))

            hit = one_event(receiver.hits)
            verify(secret, hit.headers, hit.body)
            event = json.loads(hit.body)
            assert event["type"] == "interrupt.created"
            assert event["data"]["thread_id"] == tid
            assert event["data"]["status"] == "pending"
            (pending,) = joined["__interrupt__"]
            assert event["data"]["interrupt_id"] == pending["id"]

    async def test_retries_keep_the_id_and_the_body(
        self, api: Api, tenant: str, sender: WebhookSender
    ) -> None:
        async with Receiver(statuses=[503, 503]) as receiver, api.client(tenant) as client:
            secret = (await ok(await client.post("/webhooks/secret")))["secret"]
            tid = (await new_thread(client))["thread_id"]
            await start_run(client, tid, receiver.url)
            row = await settled(api, sender, client, receiver.url)

            assert row["status"] == "delivered"
            assert row["last_status"] == 200
            assert row["attempts"] >= 3
            assert len(receiver.hits) == 3
            hit = one_event(receiver.hits)  # same webhook-id and identical bytes every time
            assert hit.headers["webhook-id"] == row["event_id"]
            for each in receiver.hits:
                verify(secret, each.headers, each.body)

    async def test_gives_up_after_max_attempts(
        self, api: Api, tenant: str, sender: WebhookSender
    ) -> None:
        async with Receiver(default=500) as receiver, api.client(tenant) as client:
            tid = (await new_thread(client))["thread_id"]
            await start_run(client, tid, receiver.url)
            row = await settled(api, sender, client, receiver.url, max_attempts=2)
            assert row["status"] == "dead"
            assert row["attempts"] >= 2
            assert row["last_status"] == 500
            assert row["last_error"] == "HTTP 500"
            one_event(receiver.hits)

    async def test_the_dispatcher_loop_delivers_and_closes_its_sender(
        self, api: Api, tenant: str
    ) -> None:
        loop_sender = WebhookSender(allow=LOOPBACK, timeout=5.0)
        task = asyncio.create_task(
            webhook_dispatch.run_dispatcher(
                api.runtime, loop_sender, owner=f"test-loop-{tenant}", interval=0.1
            )
        )
        try:
            async with Receiver() as receiver, api.client(tenant) as client:
                tid = (await new_thread(client))["thread_id"]
                await start_run(client, tid, receiver.url)
                deadline = time.monotonic() + 20
                while not receiver.hits:
                    assert time.monotonic() < deadline, "the dispatcher loop delivered nothing"
                    assert not task.done()
                    await asyncio.sleep(0.05)
                one_event(receiver.hits)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        assert loop_sender._client is None  # closed by the loop on its way out
