"""Dependencies: the runtime, the verified principal. Routes use the ``Annotated`` aliases."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Annotated

from fastapi import Depends, Request

from service.api.sse import StreamSlot, StreamSlots
from service.auth.jwt import TokenVerifier
from service.domain.principal import Principal
from service.domain.rates import NO_LIMIT, Rate
from service.errors import BadRequest, NotAuthenticated, TooManyRequests
from service.queue.rate_limit import MemoryRateLimiter, RateLimiter
from service.services.runtime import Runtime
from service.services.tenants import bind_caller, ensure_tenant


@dataclass
class AppState:
    """Everything the lifespan opened, typed, on ``app.state.app``."""

    runtime: Runtime
    verifier: TokenVerifier
    auto_provision_tenants: bool
    accept_x_api_key: bool = False
    streams: StreamSlots = field(default_factory=lambda: StreamSlots(50))
    limiter: RateLimiter = field(default_factory=MemoryRateLimiter)
    tenant_rate: Rate = NO_LIMIT
    principal_rate: Rate = NO_LIMIT

    async def limit(self, principal: Principal) -> None:
        """Charge one request to the caller and its tenant; 429 + Retry-After past a limit."""
        tenant = principal.tenant_id
        wait = await self.limiter.acquire(
            [
                (f"t:{tenant}", self.tenant_rate),
                (f"p:{tenant}:{principal.subject}", self.principal_rate),
            ]
        )
        if wait > 0:
            raise TooManyRequests(
                "Too many requests; retry after the time in Retry-After.",
                retry_after=max(1, math.ceil(wait)),
            )


def get_app_state(request: Request) -> AppState:
    state: AppState = request.app.state.app
    return state


async def get_runtime(request: Request) -> Runtime:
    # async: FastAPI runs a plain ``def`` dependency on a thread, a hop per request
    return get_app_state(request).runtime


async def get_principal(request: Request) -> Principal:
    state = get_app_state(request)
    if len(request.headers.getlist("authorization")) > 1 or (
        state.accept_x_api_key and len(request.headers.getlist("x-api-key")) > 1
    ):
        # which one would count is a guess a proxy and we could make differently
        raise BadRequest("Send one Authorization header.")
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if not header and state.accept_x_api_key:  # Agent Inbox sends its key as x-api-key
        scheme, token = "bearer", request.headers.get("x-api-key", "")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticated("Missing bearer token.")
    principal = await state.verifier.verify(token.strip())
    principal = replace(principal, request_id=getattr(request.state, "request_id", None))
    request.state.principal = principal  # the access log names the caller, even if refused
    bind_caller(principal)
    await state.limit(principal)
    await ensure_tenant(state.runtime, principal, auto_provision=state.auto_provision_tenants)
    await state.runtime.authz.policy(principal.tenant_id)  # load outside any transaction
    return principal


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]


async def stream_slot(request: Request, principal: PrincipalDep) -> StreamSlot:
    """A place among the tenant's open streams (429 when it has too many); the SSE response
    gives it back, so a route that fails before building one must release it."""
    return get_app_state(request).streams.take(principal.tenant_id)


StreamSlotDep = Annotated[StreamSlot, Depends(stream_slot)]
