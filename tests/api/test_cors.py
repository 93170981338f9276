"""CORS: browser apps on other origins (Agent Inbox, agent-chat-ui) may call the API with a
bearer token when their origin is allowed; preflights are answered before authentication."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from service.main import create_app
from tests.fixtures.app import make_settings

PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization,content-type",
}


def client(tmp_path: Path, **settings: Any) -> httpx.AsyncClient:
    app = create_app(make_settings(tmp_path, **settings))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://cs.test")


async def test_the_embedded_default_allows_every_origin_before_authentication(
    tmp_path: Path,
) -> None:
    async with client(tmp_path) as http:
        preflight = await http.options(
            "/threads/search", headers={"Origin": "http://inbox.example:3000", **PREFLIGHT}
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "*"
        assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
        assert "access-control-allow-credentials" not in preflight.headers  # bearer tokens only
        simple = await http.get("/ok", headers={"Origin": "http://inbox.example:3000"})
        assert simple.headers["access-control-allow-origin"] == "*"
        exposed = simple.headers["access-control-expose-headers"].lower()
        for header in ("content-location", "location", "x-request-id"):
            assert header in exposed


async def test_production_allows_no_origin_unless_configured(tmp_path: Path) -> None:
    url = "postgresql://nobody@127.0.0.1:1/none"  # the app is never started: no connection
    async with client(tmp_path, database_url=url) as http:
        preflight = await http.options(
            "/threads/search", headers={"Origin": "http://inbox.example", **PREFLIGHT}
        )
        assert "access-control-allow-origin" not in preflight.headers
        assert preflight.status_code in (401, 405)


async def test_only_listed_origins_are_allowed(tmp_path: Path) -> None:
    allowed = "https://inbox.example.com"
    async with client(tmp_path, cors_origins=[allowed]) as http:
        ok = await http.options("/threads/search", headers={"Origin": allowed, **PREFLIGHT})
        assert ok.status_code == 200
        assert ok.headers["access-control-allow-origin"] == allowed
        other = await http.options(
            "/threads/search", headers={"Origin": "https://evil.example", **PREFLIGHT}
        )
        assert other.status_code == 400
        assert "access-control-allow-origin" not in other.headers
        simple = await http.get("/ok", headers={"Origin": "https://evil.example"})
        assert "access-control-allow-origin" not in simple.headers
