"""S13 and S12 in the data layer: the service connects as a role of its own (member of
``countersign_app``, migration 0010), and Postgres itself keeps tenants apart and the audit
trail append-only, whatever a query forgets.

Each request's transactions set ``app.tenant_id`` to the caller's tenant (``tenancy``);
row-level security shows and accepts that tenant's rows only. These tests run real traffic
for two tenants, then queries that deliberately leave out their tenant filter.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import insert, select, text

from service import tenancy
from service.engine.checkpointer import CHECKPOINT_TABLES, PooledPostgresSaver
from service.models import (
    Assistant,
    AssistantVersion,
    AuditEvent,
    Cron,
    IdempotencyKey,
    Interrupt,
    OutboxEvent,
    Run,
    Thread,
    WebhookDelivery,
    WebhookSecret,
    WebhookSubscription,
)
from service.models.base import utcnow
from tests.api.helpers import new_thread, ok, run_to_interrupt
from tests.fixtures.app import Api

pytestmark = pytest.mark.parametrize("api", ["postgres-app-role"], indirect=True)

TENANT_MODELS: list[Any] = [
    Thread,
    Run,
    Interrupt,
    Assistant,
    AssistantVersion,
    AuditEvent,
    Cron,
    IdempotencyKey,
    WebhookSecret,
    WebhookSubscription,
    OutboxEvent,
    WebhookDelivery,
]


async def _traffic(api: Api, tenant: str) -> None:
    """A thread run to its interrupt and decided (idempotently), with the run's own webhook
    and a subscription: a row in every tenant table, and checkpoints."""
    async with api.client(tenant) as client:
        await ok(
            await client.post(
                "/webhooks", json={"url": "http://127.0.0.1:9/hook", "events": ["run.completed"]}
            ),
            201,
        )
        tid = (await new_thread(client))["thread_id"]
        await ok(
            await client.post(
                f"/threads/{tid}/runs/crons",
                json={"assistant_id": "refund_agent", "schedule": "0 0 1 1 *"},
            )
        )
        await run_to_interrupt(client, tid)
        items = (await ok(await client.get("/inbox")))["items"]
        item = next(i for i in items if i["thread_id"] == tid)
        decision = {
            "decision": {"type": "accept", "args": None},
            "payload_hash": item["payload_hash"],
        }
        await ok(
            await client.post(
                f"/inbox/{item['id']}/decision",
                json=decision,
                headers={"Idempotency-Key": f"k-{uuid.uuid4().hex}"},
            ),
            202,
        )


async def test_a_query_without_its_tenant_filter_sees_no_foreign_rows(
    api: Api, tenant: str
) -> None:
    other = f"t-{uuid.uuid4().hex[:12]}"
    for each in (tenant, other):
        await _traffic(api, each)
    rt = api.runtime
    assert not await rt.stores.bypasses_row_security()

    async def tenants_seen() -> dict[str, set[str]]:
        seen = {}
        async with rt.stores.transaction(readonly=True) as store:
            for model in TENANT_MODELS:  # the bug under test: no WHERE tenant_id = ...
                rows = await store.session.execute(select(model.tenant_id))
                seen[model.__tablename__] = set(rows.scalars())
        saver = rt.engine.checkpointer
        assert isinstance(saver, PooledPostgresSaver)
        async with saver.conn.connection() as conn:  # type: ignore[union-attr]
            await saver.act_for_tenant(conn)
            for table in CHECKPOINT_TABLES:
                rows = await (await conn.execute(f"SELECT thread_id FROM {table}")).fetchall()
                seen[table] = {row["thread_id"].partition(":")[0] for row in rows}
        return seen

    with tenancy.acting_for(tenant):
        mine = await tenants_seen()
    assert mine == {table: {tenant} for table in mine}  # rows of its own, none of the other's
    # the service's own work (no tenant) sees both: the policies do not just hide rows
    everyone = await tenants_seen()
    assert all({tenant, other} <= seen for seen in everyone.values()), everyone


async def test_another_tenants_row_cannot_be_written(api: Api, tenant: str) -> None:
    other = f"t-{uuid.uuid4().hex[:12]}"
    await _traffic(api, other)
    rt = api.runtime
    with tenancy.acting_for(tenant), pytest.raises(Exception, match="row-level security"):
        async with rt.stores.transaction() as store:
            await store.session.execute(
                insert(Thread).values(
                    thread_id=f"{other}:{uuid.uuid4()}",
                    tenant_id=other,
                    owner="mallory",
                    status="idle",
                    metadata={},
                    config={},
                    created_at=utcnow(),
                    updated_at=utcnow(),
                    state_updated_at=utcnow(),
                )
            )
    with tenancy.acting_for(tenant):
        async with rt.stores.transaction() as store:  # an update aimed at it finds nothing
            changed = await store.session.execute(
                text("UPDATE threads SET status = 'error' WHERE tenant_id = :t"), {"t": other}
            )
            assert changed.rowcount == 0  # type: ignore[attr-defined]


async def test_the_service_role_may_not_change_the_audit_trail(api: Api, tenant: str) -> None:
    """S12: not even past the append-only triggers: the role has no UPDATE or DELETE."""
    await _traffic(api, tenant)
    for statement in ("UPDATE audit_events SET actor = 'mallory'", "DELETE FROM audit_events"):
        with pytest.raises(Exception, match="permission denied"):
            async with api.runtime.stores.transaction() as store:
                await store.session.execute(text(statement))


async def test_a_platform_admin_creates_another_tenant_under_row_security(api: Api) -> None:
    """Acting for the tenant it creates (``tenancy.acting_for``): its default assistants and
    roles are written, and its own callers see them."""
    from service.services import policies

    admin_tenant = f"t-{uuid.uuid4().hex[:12]}"
    created = f"t-{uuid.uuid4().hex[:12]}"
    async with api.client(admin_tenant, "root") as client:
        await policies.grant_platform_admin(api.runtime, admin_tenant, "root")
        body = {"tenant_id": created, "admins": ["ada"]}
        await ok(await client.post("/platform/tenants", json=body), 201)
    async with api.client(created, "ada", roles=()) as client:
        # every default assistant (the test graphs are more than a page of 10)
        found = await ok(await client.post("/assistants/search", json={"limit": 100}))
    assert {a["graph_id"] for a in found} >= {"refund_agent"}
