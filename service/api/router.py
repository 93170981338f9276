"""Routers: every resource route needs a verified token; only health, info and the UI's static
files and its sign-in configuration are public (the UI calls the API with the reviewer's token)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI

from service.api.deps import get_principal
from service.api.routes import (
    assistant_versions,
    assistants,
    audit,
    crons,
    health,
    inbox,
    platform,
    policies,
    runs,
    store,
    thread_copy,
    thread_sessions,
    thread_sessions_ws,
    threads,
    webhooks,
)
from service.api.ui import build_ui_router


def include_routes(app: FastAPI, ui_dist: Path, ui_config: dict[str, Any]) -> None:
    """Every router straight onto the app, one level deep: FastAPI matches nested includes
    level by level on every request, which cost a tenth of an inbox request's CPU."""
    app.include_router(health.router)
    app.include_router(build_ui_router(ui_dist, ui_config))
    app.include_router(thread_sessions_ws.router)  # verifies its caller itself
    modules = (
        assistants,
        assistant_versions,
        threads,
        thread_sessions,
        thread_copy,
        crons,
        runs,
        inbox,
        policies,
        audit,
        platform,
        store,
        webhooks,
    )
    for module in modules:
        app.include_router(module.router, dependencies=[Depends(get_principal)])
