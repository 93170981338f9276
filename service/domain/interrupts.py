"""Pending interrupts: the Agent Inbox shape, the decisions it allows, payload hashes.

An Agent Inbox ``HumanInterrupt`` is
``{action_request: {action, args}, config: {allow_accept, allow_edit, allow_respond,
allow_ignore}, description}``, sent as the value of ``interrupt()`` or as a one-item list.
Any other value is a *raw* interrupt: its type is ``value["type"]`` or ``value["action"]``
when that is a short string, else ``"raw"``, and it accepts a ``response`` carrying any
JSON value.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, NamedTuple

from service.errors import InvalidInput

TYPE_RE = re.compile(r"^[A-Za-z0-9_:.-]{1,64}$")


class InterruptStatus(StrEnum):
    pending = "pending"
    resolved = "resolved"
    expired = "expired"
    cancelled = "cancelled"


class DecisionType(StrEnum):
    accept = "accept"
    edit = "edit"
    response = "response"
    ignore = "ignore"


_CONFIG_FLAGS = {
    "allow_accept": DecisionType.accept,
    "allow_edit": DecisionType.edit,
    "allow_respond": DecisionType.response,
    "allow_ignore": DecisionType.ignore,
}


@dataclass(frozen=True, slots=True)
class InterruptKind:
    """How the review index classifies one interrupt value."""

    type: str
    allowed: tuple[str, ...]
    description: str | None
    agent_inbox: bool
    as_list: bool = False


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def payload_hash(value: Any) -> str:
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()


def _human_interrupt(value: Any) -> tuple[dict[str, Any] | None, bool]:
    as_list = isinstance(value, list) and len(value) == 1
    candidate = value[0] if as_list else value
    if (
        isinstance(candidate, dict)
        and isinstance(candidate.get("action_request"), dict)
        and isinstance(candidate["action_request"].get("action"), str)
        and isinstance(candidate.get("config"), dict)
    ):
        return candidate, as_list
    return None, False


def classify(value: Any) -> InterruptKind:
    human, as_list = _human_interrupt(value)
    if human is not None:
        action = str(human["action_request"]["action"])
        allowed = tuple(
            decision.value for flag, decision in _CONFIG_FLAGS.items() if human["config"].get(flag)
        )
        description = human.get("description")
        return InterruptKind(
            type=action if TYPE_RE.match(action) else "raw",
            allowed=allowed,
            description=description if isinstance(description, str) else None,
            agent_inbox=True,
            as_list=as_list,
        )
    kind = "raw"
    if isinstance(value, dict):
        for key in ("type", "action"):
            candidate = value.get(key)
            if isinstance(candidate, str) and TYPE_RE.match(candidate):
                kind = candidate
                break
    description = value.get("description") if isinstance(value, dict) else None
    return InterruptKind(
        type=kind,
        allowed=(DecisionType.response.value,),
        description=description if isinstance(description, str) else None,
        agent_inbox=False,
    )


def decision_of(
    value: Any, *, agent_inbox: bool, allowed: tuple[str, ...] | list[str]
) -> DecisionType:
    """The decision a resume value carries, checked against what the interrupt allows.

    Agent Inbox interrupts take a ``HumanResponse`` (or a one-item list of them): ``accept``
    and ``ignore`` carry no args, ``edit`` carries the edited ``{action, args}``, ``response``
    carries the reviewer's text. Raw interrupts take any JSON value as a ``response``.
    Raises ``InvalidInput`` (422) for anything else.
    """
    if not agent_inbox:
        return DecisionType.response
    candidate = value[0] if isinstance(value, list) and len(value) == 1 else value
    if not isinstance(candidate, dict) or candidate.get("type") not in DecisionType.__members__:
        raise InvalidInput(
            "This interrupt takes an Agent Inbox HumanResponse: "
            '{"type": "accept" | "edit" | "response" | "ignore", "args": ...}'
        )
    decision = DecisionType(candidate["type"])
    if decision.value not in allowed:
        raise InvalidInput(
            f"This interrupt does not allow '{decision.value}'.", allowed=list(allowed)
        )
    args = candidate.get("args")
    if decision is DecisionType.edit and not (
        isinstance(args, dict) and isinstance(args.get("args"), dict)
    ):
        raise InvalidInput('An edit carries {"action": ..., "args": {...}} in args.')
    if decision is DecisionType.response and not isinstance(args, str):
        raise InvalidInput("A response carries the reviewer's text in args.")
    return decision


def expiry_from_payload(value: Any) -> tuple[datetime | None, int | None, Any]:
    """``(expires_at, expires_in_seconds, default_decision)`` an interrupt asks for itself.

    A dict value (or the HumanInterrupt of a one-item list) may carry ``expires_at`` (ISO 8601)
    or ``expires_in`` (seconds), and ``default_decision``.
    """
    candidate = value[0] if isinstance(value, list) and len(value) == 1 else value
    if not isinstance(candidate, dict):
        return None, None, None
    default = candidate.get("default_decision")
    raw_at = candidate.get("expires_at")
    if isinstance(raw_at, str):
        try:
            parsed = datetime.fromisoformat(raw_at)
        except ValueError:
            parsed = None
        if parsed is not None:
            return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)), None, default
    raw_in = candidate.get("expires_in")
    if isinstance(raw_in, (int, float)) and not isinstance(raw_in, bool) and raw_in > 0:
        return None, int(raw_in), default
    return None, None, default


def fallback_decision(agent_inbox: bool) -> Any:
    """What an expired interrupt is resolved with when nothing else is configured."""
    return {"type": DecisionType.ignore.value, "args": None} if agent_inbox else {"expired": True}


class InboxEntry(NamedTuple):
    """One pending interrupt as the inbox lists it, with what it shows of its thread."""

    id: str
    thread_id: str
    interrupt_id: str
    task_id: str
    node: str
    run_id: str | None
    graph_id: str
    type: str
    status: str
    description: str | None
    value: Any
    agent_inbox: bool
    allowed: list[str]
    payload_hash: str
    checkpoint_id: str | None
    created_at: datetime
    expires_at: datetime | None
    owner: str
    thread_status: str
    thread_metadata: dict[str, Any]
