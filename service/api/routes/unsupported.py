"""LangGraph Server routes Countersign does not offer yet: each answers ``501`` with
``{"detail": "<feature> is not supported", "code": "not_supported"}`` (after authentication,
like every route), never a bare 404 or 405, so a client ported from LangGraph Platform learns
what is missing. They stay out of the OpenAPI document: it describes what works. The README's
"LangGraph Server API" section lists the same features."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import NoReturn

from fastapi import APIRouter

from service.errors import NotSupported

router = APIRouter(include_in_schema=False)

# (methods, path, the feature in the answer)
UNSUPPORTED: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (("GET", "PUT", "DELETE"), "/store/items", "The store"),
    (("POST",), "/store/items/search", "The store"),
    (("POST",), "/store/namespaces", "The store"),
    (("POST",), "/runs/crons", "Crons"),
    (("POST",), "/runs/crons/search", "Crons"),
    (("POST",), "/runs/crons/count", "Crons"),
    (("PATCH", "DELETE"), "/runs/crons/{cron_id}", "Crons"),
    (("POST",), "/threads/{thread_id}/runs/crons", "Crons"),
    (("POST",), "/assistants/{assistant_id}/versions", "Assistant versions"),
    (("POST",), "/assistants/{assistant_id}/latest", "Assistant versions"),
    (("GET",), "/assistants/{assistant_id}/subgraphs/{namespace}", "Subgraphs by namespace"),
    (("POST",), "/threads/{thread_id}/copy", "Copying a thread"),
    (("POST",), "/threads/prune", "Pruning threads"),
    (("POST",), "/threads/{thread_id}/commands", "Thread streaming sessions"),
    (("POST",), "/threads/{thread_id}/stream/events", "Thread streaming sessions"),
)


def _refuse(feature: str) -> Callable[[], Awaitable[NoReturn]]:
    async def refuse() -> NoReturn:
        raise NotSupported(f"{feature} is not supported")

    return refuse


for _methods, _path, _feature in UNSUPPORTED:
    router.add_api_route(_path, _refuse(_feature), methods=list(_methods), response_model=None)
