"""The one exception hierarchy of the service.

Every error a client can see is a ``ServiceError``; the API renders it as
``{"detail": message, "code": code}`` with ``status_code``. Nothing here imports a
web framework, so services, adapters and the worker raise the same classes.

    ServiceError (500, internal)
    ├── BadRequest 400
    ├── NotAuthenticated 401
    ├── Forbidden 403                 authz denies within the caller's own tenant
    ├── NotFound 404                  also for other tenants' ids: never reveals existence
    ├── Conflict 409
    │   ├── ThreadBusy                multitask strategy "reject"
    │   ├── NothingPending            resume on a thread with nothing pending
    │   ├── AlreadyDecided            a second decision on one interrupt
    │   └── StaleDecision             the payload the reviewer saw is no longer pending
    ├── PayloadTooLarge 413
    ├── InvalidInput 422              validation of a request body or parameter
    ├── TooManyRequests 429
    ├── Unavailable 503               database, queue or checkpointer down
    ├── FencedWrite                   a stale worker attempt tried to write (never reaches HTTP)
    └── StartupError                  a start cannot work: one sentence naming what to fix (CLI)
"""

from __future__ import annotations

from typing import Any, ClassVar


class ServiceError(Exception):
    code: ClassVar[str] = "internal_error"
    status_code: ClassVar[int] = 500

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        self.detail = detail or self.default_detail()
        self.extra = extra
        super().__init__(self.detail)

    @classmethod
    def default_detail(cls) -> str:
        return "Internal error."


class BadRequest(ServiceError):
    code = "bad_request"
    status_code = 400


class NotAuthenticated(ServiceError):
    code = "not_authenticated"
    status_code = 401

    @classmethod
    def default_detail(cls) -> str:
        return "Missing or invalid bearer token."


class Forbidden(ServiceError):
    code = "forbidden"
    status_code = 403

    @classmethod
    def default_detail(cls) -> str:
        return "Not allowed."


class NotFound(ServiceError):
    code = "not_found"
    status_code = 404

    @classmethod
    def default_detail(cls) -> str:
        return "Not found."


class Conflict(ServiceError):
    code = "conflict"
    status_code = 409


class ThreadBusy(Conflict):
    code = "thread_busy"

    @classmethod
    def default_detail(cls) -> str:
        return "Thread is busy with another run; multitask_strategy is 'reject'."


class NothingPending(Conflict):
    code = "nothing_pending"

    @classmethod
    def default_detail(cls) -> str:
        return "There is no pending interrupt to resume on this thread."


class AlreadyDecided(Conflict):
    code = "already_decided"

    @classmethod
    def default_detail(cls) -> str:
        return "This interrupt has already been decided."


class StaleDecision(Conflict):
    code = "stale_decision"

    @classmethod
    def default_detail(cls) -> str:
        return "The pending interrupt changed since it was read; reload and decide again."


class PayloadTooLarge(ServiceError):
    code = "payload_too_large"
    status_code = 413


class InvalidInput(ServiceError):
    code = "invalid_input"
    status_code = 422


class TooManyRequests(ServiceError):
    code = "too_many_requests"
    status_code = 429


class Unavailable(ServiceError):
    code = "unavailable"
    status_code = 503

    @classmethod
    def default_detail(cls) -> str:
        return "A backing service is unavailable; retry shortly."


class FencedWrite(ServiceError):
    """A worker whose lease was taken over tried to write. Never rendered to HTTP."""

    code = "fenced_write"


class StartupError(ServiceError):
    """A start that cannot work (``service/preflight.py``): the message is one sentence naming
    the setting or file to fix; the CLI prints it and exits, never an HTTP answer."""

    code = "startup_error"
