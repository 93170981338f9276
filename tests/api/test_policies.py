"""Tenant admins edit their own tenant's policy; refused edits leave the rules untouched."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import pytest
from sqlalchemy import text

from service.domain.principal import Principal
from tests.api.helpers import REFUND_INPUT, new_thread, ok, run_to_interrupt
from tests.fixtures.app import Api


async def rules_digest(api: Api) -> str:
    """A hash of the whole casbin_rule table: every tenant, every column."""
    async with api.runtime.stores.transaction() as store:
        rows = (
            await store.session.execute(
                text("SELECT ptype, v0, v1, v2, v3, v4, v5 FROM casbin_rule ORDER BY id")
            )
        ).all()
    return hashlib.sha256(repr([tuple(r) for r in rows]).encode()).hexdigest()


REFUSED: list[tuple[str, str, str, dict[str, Any], int]] = [
    (
        "rule for another tenant",
        "PUT",
        "/policies/import",
        {"rules": [["p", "role:viewer", "other-tenant", "threads", "read", "any"]]},
        422,
    ),
    (
        "wildcard subject",
        "POST",
        "/policies/roles/*/permissions",
        {"object": "threads", "action": "read"},
        422,
    ),
    (
        "wildcard object",
        "POST",
        "/policies/roles/viewer/permissions",
        {"object": "*", "action": "read"},
        422,
    ),
    (
        "keyMatch object",
        "POST",
        "/policies/roles/viewer/permissions",
        {"object": "/threads/*", "action": "read"},
        422,
    ),
    ("comma in role", "POST", "/policies/members/bob/roles", {"role": "viewer,tenant_admin"}, 422),
    (
        "newline in action",
        "POST",
        "/policies/roles/viewer/permissions",
        {"object": "threads", "action": "read\np, role:viewer"},
        422,
    ),
    ("wildcard user", "POST", "/policies/members/*/roles", {"role": "viewer"}, 422),
    (
        "eval in import",
        "PUT",
        "/policies/import",
        {"rules": [["p", "role:viewer", "{tenant}", "threads", "read", "any", "eval(r.sub)"]]},
        422,
    ),
    (
        "platform domain",
        "PUT",
        "/policies/import",
        {"rules": [["g", "user:alice", "role:platform_admin", "_platform"]]},
        422,
    ),
    (
        "grant above own rank",
        "POST",
        "/policies/roles/viewer/permissions",
        {"object": "tenants", "action": "manage"},
        403,
    ),
    ("last tenant admin", "DELETE", "/policies/members/alice/roles/tenant_admin", {}, 409),
    (
        "admin role loses policy edits",
        "POST",
        "/policies/roles/tenant_admin/permissions/remove",
        {"object": "policies", "action": "edit", "scope": "any"},
        409,
    ),
    (
        "stale expected version",
        "POST",
        "/policies/members/bob/roles",
        {"role": "viewer", "expected_version": 1},
        409,
    ),
]


@pytest.mark.parametrize(
    ("name", "method", "path", "body", "status"), REFUSED, ids=[r[0] for r in REFUSED]
)
async def test_refused_edits_change_nothing(
    api: Api, tenant: str, name: str, method: str, path: str, body: dict[str, Any], status: int
) -> None:
    async with api.client(tenant, "alice", roles=("tenant_admin",)) as admin:
        before = await rules_digest(api)
        version = (await ok(await admin.get("/policies")))["version"]
        filled = {
            k: [[f.replace("{tenant}", tenant) for f in rule] for rule in v] if k == "rules" else v
            for k, v in body.items()
        }
        if method == "DELETE":
            response = await admin.delete(path)
        else:
            response = await admin.request(method, path, json=filled)
        assert response.status_code == status, f"{name}: {response.text}"
        assert set(response.json()) == {"detail", "code"}
        assert await rules_digest(api) == before
        assert (await ok(await admin.get("/policies")))["version"] == version


async def test_non_admins_cannot_edit(api: Api, tenant: str) -> None:
    async with api.client(tenant, "alice", roles=("tenant_admin",)):
        pass
    async with api.client(tenant, "rita", roles=("editor",)) as editor:
        before = await rules_digest(api)
        response = await editor.post("/policies/members/rita/roles", json={"role": "tenant_admin"})
        assert response.status_code == 403
        assert await rules_digest(api) == before


class TestEdits:
    async def test_assign_revoke_and_effective_permissions(self, api: Api, tenant: str) -> None:
        async with api.client(tenant, "alice", roles=("tenant_admin",)) as admin:
            policy = await ok(
                await admin.post(
                    "/policies/members/bob@example.com/roles", json={"role": "reviewer"}
                )
            )
            assert policy["members"]["bob@example.com"] == ["role:reviewer"]
            effective = await ok(await admin.get("/policies/effective/bob@example.com"))
            assert effective["roles"] == ["role:reviewer", "role:viewer"]
            assert {
                "object": "interrupt:any",
                "action": "decide",
                "scope": "any",
                "via": "role:reviewer",
            } in effective["permissions"]
            policy = await ok(
                await admin.delete("/policies/members/bob@example.com/roles/reviewer")
            )
            assert "bob@example.com" not in policy["members"]

    async def test_per_type_permission_and_who_can_decide(self, api: Api, tenant: str) -> None:
        async with api.client(tenant, "alice", roles=("tenant_admin", "agent")) as admin:
            # refunds are decided by finance reviewers only
            await ok(
                await admin.post(
                    "/policies/roles/reviewer/permissions/remove",
                    json={"object": "interrupt:any", "action": "decide"},
                )
            )
            await ok(
                await admin.post(
                    "/policies/roles/finance_reviewer/permissions",
                    json={"object": "interrupt:refund", "action": "decide"},
                )
            )
            await ok(
                await admin.post(
                    "/policies/roles/finance_reviewer/parents", json={"parent": "viewer"}
                )
            )
            await ok(
                await admin.post("/policies/members/fiona/roles", json={"role": "finance_reviewer"})
            )
            await ok(await admin.post("/policies/members/rob/roles", json={"role": "reviewer"}))
            thread = await new_thread(admin)
            await run_to_interrupt(admin, thread["thread_id"])
            rows = await ok(await admin.get("/audit", params={"action": "policy.grant"}))
            assert rows
        async with api.runtime.transaction() as uow:
            (row,) = await uow.store.interrupts.pending_for_threads(
                [thread["thread_id"]], tenant_id=tenant
            )
        async with api.client(tenant, "alice", roles=()) as admin:
            who = await ok(await admin.get(f"/policies/who-can-decide/{row.id}"))
        assert who["decide"] == ["fiona"]
        assert who["type"] == "refund"
        body = {"assistant_id": "refund_agent", "command": {"resume": [{"type": "accept"}]}}
        async with api.client(tenant, "rob", roles=()) as rob:
            assert (
                await rob.post(f"/threads/{thread['thread_id']}/runs", json=body)
            ).status_code == 403
        async with api.client(tenant, "fiona", roles=()) as fiona:
            assert (
                await fiona.post(f"/threads/{thread['thread_id']}/runs", json=body)
            ).status_code == 200

    async def test_dry_run_against_stored_and_proposed_rules(self, api: Api, tenant: str) -> None:
        async with api.client(tenant, "alice", roles=("tenant_admin",)) as admin:
            stored = await ok(
                await admin.post(
                    "/policies/test",
                    json={"role": "reviewer", "object": "interrupt:refund", "action": "decide"},
                )
            )
            assert stored["allowed"] is True
            assert stored["casbin_allowed"] is True
            assert stored["rule"] == [
                "p",
                "role:reviewer",
                tenant,
                "interrupt:any",
                "decide",
                "any",
            ]
            exported = await ok(await admin.get("/policies/export"))
            proposed = [
                r for r in exported["rules"] if r[1:4] != ["role:reviewer", tenant, "interrupt:any"]
            ]
            before = await rules_digest(api)
            tried = await ok(
                await admin.post(
                    "/policies/test",
                    json={
                        "role": "reviewer",
                        "object": "interrupt:refund",
                        "action": "decide",
                        "rules": proposed,
                    },
                )
            )
            assert tried["allowed"] is False
            assert tried["casbin_allowed"] is False
            assert await rules_digest(api) == before  # a dry run saves nothing
            own = await ok(
                await admin.post(
                    "/policies/test",
                    json={"role": "agent", "object": "threads", "action": "read", "own": True},
                )
            )
            other = await ok(
                await admin.post(
                    "/policies/test", json={"role": "agent", "object": "threads", "action": "read"}
                )
            )
            assert (own["allowed"], other["allowed"]) == (True, False)

    async def test_history_rollback_and_audit(self, api: Api, tenant: str) -> None:
        async with api.client(tenant, "alice", roles=("tenant_admin",)) as admin:
            start = (await ok(await admin.get("/policies")))["version"]
            await ok(
                await admin.post(
                    "/policies/members/zoe/roles",
                    json={"role": "editor", "expected_version": start},
                )
            )
            await ok(await admin.post("/policies/members/zoe/roles", json={"role": "agent"}))
            history = await ok(await admin.get("/policies/history"))
            assert [h["version"] for h in history[:2]] == [start + 2, start + 1]
            assert history[0]["actor"] == "alice"
            rolled = await ok(await admin.post("/policies/rollback", json={"version": start}))
            assert "zoe" not in rolled["members"]
            assert rolled["version"] == start + 3
            exported = await ok(await admin.get("/policies/export"))
            assert exported["version"] == start + 3
            events = await ok(await admin.get("/audit", params={"target_type": "policy"}))
            assert [e["action"] for e in events[-3:]] == [
                "policy.assign",
                "policy.assign",
                "policy.rollback",
            ]
            assert all(e["actor"] == "alice" for e in events[-3:])
            assert events[-1]["request_id"]
            verified = await ok(await admin.get("/audit/verify"))
            assert verified["ok"] is True
            assert verified["checked"] == verified["head_seq"] >= 3

    async def test_import_replaces_rules(self, api: Api, tenant: str) -> None:
        async with api.client(tenant, "alice", roles=("tenant_admin",)) as admin:
            exported = await ok(await admin.get("/policies/export"))
            rules = [*exported["rules"], ["p", "role:viewer", tenant, "audit", "read", "any"]]
            imported = await ok(await admin.put("/policies/import", json={"rules": rules}))
            assert {"object": "audit", "action": "read", "scope": "any"} in imported["roles"][
                "role:viewer"
            ]["permissions"]


class TestTenantAdminsStayInTheirTenant:
    async def test_other_tenant_rules_are_untouched(self, api: Api, tenant: str) -> None:
        async with api.client(tenant + "-b", "bea", roles=("tenant_admin",)) as other:
            other_before = await ok(await other.get("/policies/export"))
        async with api.client(tenant, "alice", roles=("tenant_admin",)) as admin:
            await ok(await admin.post("/policies/members/bea/roles", json={"role": "viewer"}))
            assert (
                await admin.put(
                    "/policies/import",
                    json={"rules": [["g", "user:alice", "role:tenant_admin", tenant + "-b"]]},
                )
            ).status_code == 422
        async with api.client(tenant + "-b", "bea", roles=()) as other:
            assert await ok(await other.get("/policies/export")) == other_before


async def test_tokens_roles_are_ignored_by_default(api: Api, tenant: str) -> None:
    from service.auth.jwt import mint_token

    async with api.client(tenant, "alice", roles=("tenant_admin",)) as admin:
        thread = await new_thread(admin)
    token = mint_token(
        api.settings, tenant=tenant, subject="mallory", roles=["tenant_admin", "editor"]
    )
    async with api.client(tenant, "mallory", roles=()) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        assert (await client.get("/policies")).status_code == 403
        started = await client.post(
            f"/threads/{thread['thread_id']}/runs",
            json={"assistant_id": "refund_agent", "input": REFUND_INPUT},
        )
        assert started.status_code == 404  # cannot even see the thread


async def test_a_policy_load_never_waits_for_the_request_pool(api: Api, tenant: str) -> None:
    """Checks made inside transactions may have to load a policy (another process changed
    it); with every request connection held, that load must still go through."""
    rt = api.runtime
    async with api.client(tenant):
        pass
    principal = Principal(tenant_id=tenant, subject="alice")
    size = api.settings.db_pool_size + api.settings.db_max_overflow
    holding, release = asyncio.Event(), asyncio.Event()
    held = 0

    async def hold() -> None:
        nonlocal held
        async with rt.transaction(readonly=True) as uow:
            await uow.store.session.execute(text("SELECT 1"))
            held += 1
            if held == size:
                holding.set()
            await release.wait()

    holders = [asyncio.create_task(hold()) for _ in range(size)]
    try:
        await asyncio.wait_for(holding.wait(), 10)
        rt.authz.invalidate(tenant)
        await asyncio.wait_for(rt.authz.require(principal, "inbox", "read"), 5)
    finally:
        release.set()
        await asyncio.gather(*holders)
