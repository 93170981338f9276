"""Request rate limits per caller and per tenant (security defect 2): 429 with Retry-After,
nothing else charged, other callers and tenants untouched, health probes never limited."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from service.auth.jwt import mint_token
from service.main import create_app
from tests.fixtures.app import make_settings


@asynccontextmanager
async def limited_app(tmp_path: Path, **limits: Any) -> AsyncIterator[tuple[Any, Any]]:
    settings = make_settings(tmp_path, **limits)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app, settings


def client(app: Any, settings: Any, tenant: str, subject: str) -> httpx.AsyncClient:
    token = mint_token(settings, tenant=tenant, subject=subject)
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://cs.test",
        headers={"Authorization": f"Bearer {token}"},
    )


async def statuses(http: httpx.AsyncClient, n: int) -> list[httpx.Response]:
    return [await http.post("/threads/search", json={"limit": 1}) for _ in range(n)]


def limited(answers: list[httpx.Response]) -> list[bool]:
    """Which requests were refused by a limit (the callers hold no role: the others get 403,
    authorization still applies after the limit)."""
    assert {r.status_code for r in answers} <= {403, 429}
    return [r.status_code == 429 for r in answers]


async def test_a_caller_past_its_rate_gets_429_with_retry_after(tmp_path: Path) -> None:
    async with (
        limited_app(
            tmp_path, rate_limit_principal=1, rate_limit_principal_burst=5, rate_limit_tenant=0
        ) as (app, settings),
        client(app, settings, "acme", "flood") as flood,
        client(app, settings, "acme", "calm") as calm,
        client(app, settings, "other", "flood") as elsewhere,
    ):
        answers = await statuses(flood, 8)
        assert limited(answers) == [False] * 5 + [True] * 3
        refused = answers[-1]
        assert refused.json()["code"] == "too_many_requests"
        assert int(refused.headers["Retry-After"]) >= 1
        # another caller of the tenant, and a namesake in another tenant, are not limited
        assert limited(await statuses(calm, 3)) == [False] * 3
        assert limited(await statuses(elsewhere, 3)) == [False] * 3
        anonymous = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://cs.test"
        )
        async with anonymous:
            assert (await anonymous.get("/ok")).status_code == 200  # probes never limited


async def test_a_tenant_past_its_rate_is_limited_whoever_calls(tmp_path: Path) -> None:
    async with (
        limited_app(
            tmp_path, rate_limit_tenant=1, rate_limit_tenant_burst=4, rate_limit_principal=0
        ) as (app, settings),
        client(app, settings, "acme", "a") as a,
        client(app, settings, "acme", "b") as b,
        client(app, settings, "zeta", "a") as other,
    ):
        assert limited(await statuses(a, 3)) == [False] * 3
        assert limited(await statuses(b, 3)) == [False, True, True]
        assert limited(await statuses(other, 4)) == [False] * 4


async def test_limits_off_when_set_to_zero(tmp_path: Path) -> None:
    async with (
        limited_app(tmp_path, rate_limit_tenant=0, rate_limit_principal=0) as (
            app,
            settings,
        ),
        client(app, settings, "acme", "a") as a,
    ):
        assert not any(limited(await statuses(a, 150)))
