"""The reviewer web UI: the built ``frontend/dist`` served at ``/ui/`` (``/`` redirects there).

Hashed files under ``assets/`` are cached for a year; every other path under ``/ui/`` that is
not a file answers ``index.html`` (the UI routes on the client), never cached. Without a build
the API still starts, and ``/ui/`` answers a JSON 404 saying how to build it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response

PREFIX = "/ui"
IMMUTABLE = "public, max-age=31536000, immutable"
NOT_BUILT = (
    "The web UI is not built: run `make install` (or `cd frontend && npm ci && npm run build`), "
    "or point COUNTERSIGN_UI_DIR at a build."
)


def _not_found(detail: str, code: str = "not_found") -> JSONResponse:
    return JSONResponse({"detail": detail, "code": code}, status_code=404)


def _inside(root: Path, relative: str) -> Path | None:
    """``root/relative`` if it is a file inside ``root`` (no ``..`` or symlink escapes)."""
    try:
        candidate = (root / relative).resolve()
    except (OSError, ValueError):
        return None
    if candidate.is_relative_to(root) and candidate.is_file():
        return candidate
    return None


def build_ui_router(dist: Path, config: dict[str, Any]) -> APIRouter:
    """``config``: what the UI is told before sign-in (``Settings.ui_config``), at
    ``/ui/config.json``."""
    router = APIRouter(include_in_schema=False)
    root = dist.resolve()

    @router.get(PREFIX + "/config.json")
    async def ui_config() -> JSONResponse:
        return JSONResponse(config, headers={"Cache-Control": "no-cache"})

    @router.api_route("/", methods=["GET", "HEAD"])
    @router.api_route(PREFIX, methods=["GET", "HEAD"])
    async def ui_root() -> Response:  # a browser keeps the #token=... fragment across it
        return RedirectResponse(f"{PREFIX}/", status_code=308)

    @router.api_route(PREFIX + "/{path:path}", methods=["GET", "HEAD"])
    async def ui_file(path: str) -> Response:
        index = root / "index.html"
        if not index.is_file():
            return _not_found(NOT_BUILT, "ui_not_built")
        found = _inside(root, path) if path else None
        if found is not None and found != index.resolve():
            cache = IMMUTABLE if path.startswith("assets/") else "no-cache"
            return FileResponse(found, headers={"Cache-Control": cache})
        if path.startswith("assets/"):
            return _not_found("No such UI asset.")
        return FileResponse(index, media_type="text/html", headers={"Cache-Control": "no-cache"})

    return router
