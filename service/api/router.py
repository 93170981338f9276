"""Routers: every resource route needs a verified token; only health, info and the UI's static
files are public (the UI itself calls the API with the reviewer's token)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends

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
    webhooks,
)
from service.api.ui import build_ui_router


def build_router(ui_dist: Path) -> APIRouter:
    root = APIRouter()
    root.include_router(health.router)
    root.include_router(build_ui_router(ui_dist))
    private = APIRouter(dependencies=[Depends(get_principal)])
    for module in (assistants, threads, runs, inbox, policies, audit, platform, webhooks):
        private.include_router(module.router)
    root.include_router(private)
    return root
