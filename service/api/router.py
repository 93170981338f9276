"""Routers: every resource route needs a verified token; only health and info are public."""

from __future__ import annotations

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


def build_router() -> APIRouter:
    root = APIRouter()
    root.include_router(health.router)
    private = APIRouter(dependencies=[Depends(get_principal)])
    for module in (assistants, threads, runs, inbox, policies, audit, platform, webhooks):
        private.include_router(module.router)
    root.include_router(private)
    return root
