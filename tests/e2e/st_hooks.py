"""Schemathesis hooks for R22/S2 (loaded with ``SCHEMATHESIS_HOOKS``): the ``tenant_isolation``
check replays every successful request that names an object in its path with another tenant's
token, and the answer must be the one that tenant gets for an id that does not exist: a 404,
byte for byte the same body. So a foreign id is neither served nor told apart from an unknown one.

The other tenant's token comes in ``ST_PEER_TOKEN``; ``ST_SHARED_IDS`` lists the ids every tenant
resolves for itself (the graph ids, which name each tenant's own default assistant)."""

from __future__ import annotations

import os
import uuid
from typing import Any

import requests
import schemathesis
from schemathesis import Case, CheckContext, Response

ID_PARAMETERS = {
    "thread_id",
    "run_id",
    "assistant_id",
    "item_id",
    "webhook_id",
    "checkpoint_id",
    "interrupt_id",
}


def _send(case: Case, base_url: str, token: str) -> requests.Response:
    kwargs: dict[str, Any] = case.as_transport_kwargs(base_url=base_url)
    kwargs["headers"] = {
        **{k: v for k, v in kwargs.get("headers", {}).items() if k.lower() != "authorization"},
        "Authorization": f"Bearer {token}",
    }
    kwargs["timeout"] = 30
    return requests.request(**kwargs)


def _upserts(case: Case) -> bool:
    """A run that creates its thread when missing makes the peer its own thread of that id."""
    return isinstance(case.body, dict) and case.body.get("if_not_exists") == "create"


def _comparable(answer: requests.Response) -> tuple[int, bytes]:
    return answer.status_code, answer.content


@schemathesis.check
def tenant_isolation(ctx: CheckContext, response: Response, case: Case) -> bool | None:
    """Another tenant replaying a successful request gets the unknown-id 404."""
    if not 200 <= response.status_code < 300 or _upserts(case):
        return None
    shared = set(os.environ.get("ST_SHARED_IDS", "").split(","))
    named = {
        name: value
        for name, value in (case.path_parameters or {}).items()
        if name in ID_PARAMETERS and str(value) not in shared
    }
    if not named:
        return None
    base_url = os.environ["ST_BASE_URL"]
    token = os.environ["ST_PEER_TOKEN"]
    foreign = _send(case, base_url, token)
    unknown_case = case.derive()
    for name in named:
        unknown_case.path_parameters[name] = f"unknown-{uuid.uuid4().hex}"
    unknown = _send(unknown_case, base_url, token)
    if foreign.status_code != 404:
        raise AssertionError(
            f"Another tenant replaying {case.method} {case.formatted_path} got "
            f"{foreign.status_code}, not 404: {foreign.text[:300]}"
        )
    if _comparable(foreign) != _comparable(unknown):
        raise AssertionError(
            f"A foreign id and an unknown id answer differently on {case.method} {case.path}: "
            f"{foreign.status_code} {foreign.text[:200]!r} vs "
            f"{unknown.status_code} {unknown.text[:200]!r}"
        )
    return None
