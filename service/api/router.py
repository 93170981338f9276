"""Routers: every resource route needs a verified token; only health, info and the UI's static
files and its sign-in configuration are public (the UI calls the API with the reviewer's token)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI

from service.api.deps import get_principal
from service.api.routes import (
    assistants,
    audit,
    health,
    inbox,
    platform,
    policies,
    runs,
    threads,
    unsupported,
    webhooks,
)
from service.api.ui import build_ui_router


def include_routes(app: FastAPI, ui_dist: Path, ui_config: dict[str, Any]) -> None:
    """Every router straight onto the app, one level deep: FastAPI matches nested includes
    level by level on every request, which cost a tenth of an inbox request's CPU."""
    app.include_router(health.router)
    app.include_router(build_ui_router(ui_dist, ui_config))
    modules = (assistants, threads, runs, inbox, policies, audit, platform, webhooks, unsupported)
    for module in modules:
        app.include_router(module.router, dependencies=[Depends(get_principal)])
