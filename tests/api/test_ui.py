"""The API serves the built web UI at /ui/ (and says how to build it when it is missing)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from service.api.middleware import EdgeMiddleware
from service.api.ui import build_ui_router
from tests.fixtures.app import Api

INDEX = '<!doctype html><script type="module" src="/ui/assets/index-abc123.js"></script>'


def ui_app(dist: Path) -> FastAPI:
    app = FastAPI()
    app.include_router(build_ui_router(dist, {"oidc": None, "dev_sign_in": True}))
    app.add_middleware(EdgeMiddleware, max_body_bytes=1024)
    return app


@pytest.fixture
async def built(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text(INDEX)
    (tmp_path / "assets" / "index-abc123.js").write_text("console.log('ui')")
    (tmp_path.parent / "secret.txt").write_text("not for you")
    transport = httpx.ASGITransport(app=ui_app(tmp_path))
    async with httpx.AsyncClient(transport=transport, base_url="http://ui.test") as client:
        yield client


class TestServeUi:
    async def test_index_and_client_routes(self, built: httpx.AsyncClient) -> None:
        for path in ("/ui/", "/ui/items/abc", "/ui/admin", "/ui/index.html"):
            response = await built.get(path)
            assert response.status_code == 200, path
            assert response.text == INDEX
            assert response.headers["cache-control"] == "no-cache"
            assert response.headers["content-type"].startswith("text/html")
        redirect = await built.get("/ui")
        assert redirect.status_code == 308
        assert redirect.headers["location"] == "/ui/"

    async def test_hashed_assets_are_cacheable(self, built: httpx.AsyncClient) -> None:
        response = await built.get("/ui/assets/index-abc123.js")
        assert response.status_code == 200
        assert "immutable" in response.headers["cache-control"]
        assert "javascript" in response.headers["content-type"]
        missing = await built.get("/ui/assets/index-gone.js")
        assert missing.status_code == 404
        assert missing.json()["code"] == "not_found"

    async def test_no_escape_from_the_build(self, built: httpx.AsyncClient) -> None:
        for path in (
            "/ui/../secret.txt",
            "/ui/%2e%2e/secret.txt",
            "/ui/assets/..%2f..%2fsecret.txt",
        ):
            response = await built.get(path)
            assert "not for you" not in response.text, path

    async def test_csp_lets_the_ui_load_its_own_files_only(self, built: httpx.AsyncClient) -> None:
        csp = (await built.get("/ui/")).headers["content-security-policy"]
        assert "script-src 'self'" in csp
        assert "style-src 'self'" in csp
        assert "connect-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp

    async def test_missing_build_is_a_clear_404(self, tmp_path: Path) -> None:
        transport = httpx.ASGITransport(app=ui_app(tmp_path / "nothing"))
        async with httpx.AsyncClient(transport=transport, base_url="http://ui.test") as client:
            response = await client.get("/ui/")
        assert response.status_code == 404
        assert response.json()["code"] == "ui_not_built"
        assert "npm run build" in response.json()["detail"]


async def test_the_app_serves_the_ui_without_a_token(api: Api) -> None:
    async with api.anonymous() as client:
        response = await client.get("/ui/")
        inbox = await client.get("/inbox")
    # the checkout's build, or the clear 404 when it was never built
    assert response.status_code in (200, 404)
    if response.status_code == 404:
        assert response.json()["code"] == "ui_not_built"
    assert inbox.status_code == 401
