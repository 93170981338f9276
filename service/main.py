"""HTTP composition root: ``create_app(settings)`` builds the FastAPI app."""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from service.api.deps import AppState
from service.api.errors import add_exception_handlers
from service.api.middleware import EdgeMiddleware
from service.api.openapi import describe
from service.api.router import include_routes
from service.api.sse import StreamSlots
from service.auth.jwt import TokenVerifier
from service.bootstrap import build_worker, open_runtime
from service.domain.rates import Rate
from service.embedded import WorkerChild
from service.observability import OPEN_STREAMS, settle_heap
from service.paths import ui_dist
from service.queue.rate_limit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from service.services import metrics, policies
from service.services.tenants import create_tenant
from service.settings import Settings, get_settings

DEMO_USER = "demo-user"
CORS_EXPOSED = ["Content-Location", "Location", "X-Request-Id", "Preference-Applied", "Retry-After"]


def create_app(settings: Settings | None = None, *, worker_process: bool = False) -> FastAPI:
    """The app; with ``worker_process`` (embedded ``countersign serve``) runs are executed by a
    worker child process it starts, supervises and stops, over the bus it serves."""
    settings = settings or get_settings()
    if worker_process:
        settings = settings.model_copy(update={"run_in_api": False})

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        verifier = TokenVerifier(settings)
        async with contextlib.AsyncExitStack() as stack:
            hub_path = None
            if worker_process:  # a private directory: a short path, nobody else's socket
                hub_path = Path(stack.enter_context(tempfile.TemporaryDirectory())) / "bus.sock"
            rt = await stack.enter_async_context(
                open_runtime(settings, role="api", hub_path=hub_path)
            )
            if hub_path is not None:
                await stack.enter_async_context(WorkerChild(hub_path))
            if settings.embedded and settings.demo_tenant:
                await create_tenant(rt, settings.demo_tenant, "Demo tenant", admins=[DEMO_USER])
                await policies.grant_members(
                    rt, settings.demo_tenant, DEMO_USER, ["reviewer", "editor", "agent"]
                )
            worker = build_worker(rt, settings, role="api") if settings.runs_worker_in_api else None
            if worker is not None:
                worker.start()
            background = [
                asyncio.create_task(
                    policies.watch_changes(rt, interval=settings.policy_poll_seconds),
                    name="policy-watcher",
                ),
                asyncio.create_task(
                    metrics.run_sampler(rt, every=settings.metrics_sample_seconds),
                    name="metrics-sampler",
                ),
            ]
            limiter: RateLimiter = (
                RedisRateLimiter.from_url(settings.redis_url)
                if settings.redis_url
                else MemoryRateLimiter()
            )
            stack.push_async_callback(limiter.aclose)
            app.state.app = AppState(
                runtime=rt,
                verifier=verifier,
                auto_provision_tenants=settings.auto_provision_tenants,
                accept_x_api_key=settings.accept_x_api_key,
                streams=StreamSlots(settings.max_streams_per_tenant),
                limiter=limiter,
                tenant_rate=Rate(settings.rate_limit_tenant, settings.rate_limit_tenant_burst),
                principal_rate=Rate(
                    settings.rate_limit_principal, settings.rate_limit_principal_burst
                ),
            )
            app.state.worker = worker
            OPEN_STREAMS.set_function(app.state.app.streams.total)
            settle_heap()
            try:
                yield
            finally:
                for task in background:
                    task.cancel()
                for task in background:
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                if worker is not None:
                    await worker.stop(grace=5.0)
                await verifier.aclose()

    app = FastAPI(
        title="Countersign",
        version="0.1.0",
        summary="Multi-tenant human-in-the-loop review for LangGraph agents",
        lifespan=lifespan,
    )
    add_exception_handlers(app)
    include_routes(app, settings.ui_dir or ui_dist(), settings.ui_config)
    describe(app)
    app.add_middleware(
        EdgeMiddleware,
        max_body_bytes=settings.max_body_bytes,
        log_requests=settings.access_log,
        connect=settings.ui_connects_to,
    )
    if origins := settings.allowed_origins:  # outermost: preflights never reach authentication
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["*"],
            allow_headers=["*"],
            expose_headers=CORS_EXPOSED,
            max_age=600,
        )
    return app
