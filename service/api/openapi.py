"""The OpenAPI document says what the service really does: every route behind the verified
principal declares the bearer scheme (so a client generator, and schemathesis' ``ignored_auth``
check, know a token is required) and the error answers every such route can give, in the one
``{"detail": ..., "code": ...}`` body of ``service.api.errors``."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from starlette.routing import compile_path

from service.api.routes import health
from service.api.schemas.common import ErrorBody

SCHEME = "bearer"
ERROR_REF = {"$ref": "#/components/schemas/Error"}
ERROR_SCHEMA = ErrorBody.model_json_schema()
# what any authenticated route may answer besides its own success: the token, the rate limit,
# the body limit, validation, a missing or foreign object, policy, a lost race, a backing
# service that is down (503 with Retry-After)
ERRORS = {
    "400": "Malformed request",
    "401": "Missing or invalid token",
    "403": "Not allowed by the tenant's policy",
    "404": "No such object in the caller's tenant",
    "409": "Conflicts with the object's current state",
    "413": "Body too large",
    "415": "Body is not JSON",
    "422": "Invalid input",
    "429": "Rate or stream limit reached; see Retry-After",
    "503": "A backing service is unavailable; see Retry-After",
}
# operations whose 200 is a Server-Sent Events stream, not JSON
STREAM_SUFFIX = "/stream"
SSE = {"text/event-stream": {"schema": {"type": "string"}}}


def _public() -> set[tuple[str, str]]:
    """The probes (``service.api.router``: everything else is behind ``get_principal``)."""
    return {
        (route.path_format, method.lower())
        for route in health.router.routes
        if isinstance(route, APIRoute)
        for method in route.methods or ()
    }


def describe(app: FastAPI) -> None:
    """Replace ``app.openapi`` with one that adds security and error answers, built once."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            summary=app.summary,
            routes=app.routes,
        )
        components = schema.setdefault("components", {})
        components.setdefault("schemas", {})["Error"] = ERROR_SCHEMA
        components["securitySchemes"] = {
            SCHEME: {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
        }
        public = _public()
        for path, item in schema.get("paths", {}).items():
            for method, operation in item.items():
                if (path, method) in public:
                    continue
                operation["security"] = [{SCHEME: []}]
                answers = operation.setdefault("responses", {})
                if path.endswith(STREAM_SUFFIX) and "200" in answers:
                    answers["200"]["content"] = SSE
                for status, text in ERRORS.items():
                    answers[status] = {
                        "description": text,
                        "content": {"application/json": {"schema": ERROR_REF}},
                    }
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def allowed_methods(app: FastAPI, path: str) -> str:
    """The ``Allow`` header of a 405: the methods of the most specific documented path that
    matches (``/threads/x/state/checkpoint`` is that literal route's, not ``{checkpoint_id}``'s)."""
    found = [
        (template.count("{"), {method.upper() for method in item})
        for template, item in app.openapi().get("paths", {}).items()
        if compile_path(template)[0].match(path)
    ]
    if not found:
        return ""
    fewest = min(params for params, _ in found)
    return ", ".join(sorted({m for params, ms in found if params == fewest for m in ms}))
