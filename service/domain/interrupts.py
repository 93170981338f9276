"""Pending interrupts: review kinds recognised by shape, the decisions each allows, hashes.

- Agent Inbox ``HumanInterrupt``: ``{action_request: {action, args}, config: {allow_accept,
  allow_edit, allow_respond, allow_ignore}, description}``, alone or as a one-item list;
  answered with a ``HumanResponse`` (``decision_of``).
- LangChain v1 ``HITLRequest`` (``HumanInTheLoopMiddleware``, batched): ``{action_requests:
  [{name, args, description}], review_configs: [{action_name, allowed_decisions,
  args_schema?}]}``; every action is reviewed as its own type (the tool name) and the answer
  is ``{decisions: [...]}``, one per action in order (``review_decisions``).
- LangChain v1 ``tool_approval`` (per call): ``{type: "tool_approval", tool_call_id, name,
  args, description}``, typed by the tool name, answered with one decision; the interrupt's
  ``response_schema`` (kept on the row) says which, and is enforced.
- Anything else is *raw*: its type is ``value["type"]`` or ``value["action"]`` when that is a
  short string, else ``"raw"``, and it accepts a ``response`` carrying any JSON value.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, NamedTuple

import jsonschema

from service.errors import InvalidInput

TYPE_RE = re.compile(r"^[A-Za-z0-9_:.-]{1,64}$")
BATCH_TYPE = "batch"  # a batch whose tool names do not fit one type column
TYPE_JOIN = "+"  # the type of a batch of several tools: their names, sorted, joined


class InterruptStatus(StrEnum):
    pending = "pending"
    resolved = "resolved"
    expired = "expired"
    cancelled = "cancelled"
    # decided, but the resume run ended (cancelled, failed) before the graph got past the
    # interrupt: the decision took no effect and the interrupt is offered again, as a new row
    voided = "voided"


class DecisionType(StrEnum):
    accept = "accept"
    edit = "edit"
    response = "response"
    ignore = "ignore"


class ReviewKind(StrEnum):
    agent_inbox = "agent_inbox"
    hitl_request = "hitl_request"
    tool_approval = "tool_approval"
    raw = "raw"


class ToolDecision(StrEnum):
    """LangChain v1's decisions on one tool call."""

    approve = "approve"
    edit = "edit"
    reject = "reject"
    respond = "respond"


ALL_TOOL_DECISIONS = tuple(d.value for d in ToolDecision)


@dataclass(frozen=True, slots=True)
class ActionReview:
    """One reviewable action: a tool call, authorized as the interrupt type ``name``."""

    name: str
    args: Any
    description: str | None
    allowed: tuple[str, ...]
    args_schema: dict[str, Any] | None = None


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
    kind: ReviewKind = ReviewKind.raw
    as_list: bool = False
    actions: tuple[ActionReview, ...] = ()

    @property
    def agent_inbox(self) -> bool:
        return self.kind is ReviewKind.agent_inbox

    @property
    def types(self) -> tuple[str, ...]:
        """The interrupt types a decision on it is authorized as: one per action."""
        return tuple(a.name for a in self.actions) if self.actions else (self.type,)


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


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _tool_type(name: str) -> str:
    return name if TYPE_RE.match(name) else "raw"


def _batch_type(actions: tuple[ActionReview, ...]) -> str:
    joined = TYPE_JOIN.join(sorted({a.name for a in actions}))
    return joined if len(joined) <= 64 else BATCH_TYPE


def _hitl_request(value: Any) -> tuple[ActionReview, ...] | None:
    if not (
        isinstance(value, dict)
        and isinstance(value.get("action_requests"), list)
        and value["action_requests"]
        and isinstance(value.get("review_configs"), list)
    ):
        return None
    configs = {
        c["action_name"]: c
        for c in value["review_configs"]
        if isinstance(c, dict) and isinstance(c.get("action_name"), str)
    }
    actions = []
    for request in value["action_requests"]:
        if not (isinstance(request, dict) and isinstance(request.get("name"), str)):
            return None
        config = configs.get(request["name"], {})
        allowed = config.get("allowed_decisions", ALL_TOOL_DECISIONS)
        schema = config.get("args_schema")
        actions.append(
            ActionReview(
                name=_tool_type(request["name"]),
                args=request.get("args"),
                description=_text(request.get("description")),
                allowed=tuple(d for d in ALL_TOOL_DECISIONS if d in allowed),
                args_schema=schema if isinstance(schema, dict) else None,
            )
        )
    return tuple(actions)


def _schema_decisions(schema: dict[str, Any] | None) -> tuple[str, ...]:
    """The decision types a per-call ``response_schema`` admits (every one when unknown)."""
    if not isinstance(schema, dict):
        return ALL_TOOL_DECISIONS
    consts: set[str] = set()

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            kind = node.get("properties", {}).get("type", {})
            if isinstance(kind, dict) and isinstance(kind.get("const"), str):
                consts.add(kind["const"])
            for child in node.values():
                visit(child)
        elif isinstance(node, list):
            for child in node:
                visit(child)

    visit(schema)
    found = tuple(d for d in ALL_TOOL_DECISIONS if d in consts)
    return found or ALL_TOOL_DECISIONS


def classify(value: Any, response_schema: dict[str, Any] | None = None) -> InterruptKind:
    human, as_list = _human_interrupt(value)
    if human is not None:
        action = str(human["action_request"]["action"])
        allowed = tuple(
            decision.value for flag, decision in _CONFIG_FLAGS.items() if human["config"].get(flag)
        )
        return InterruptKind(
            type=action if TYPE_RE.match(action) else "raw",
            allowed=allowed,
            description=_text(human.get("description")),
            as_list=as_list,
            kind=ReviewKind.agent_inbox,
        )
    actions = _hitl_request(value)
    if actions is not None:
        texts = [a.description for a in actions if a.description]
        return InterruptKind(
            type=_batch_type(actions),
            allowed=tuple(d for d in ALL_TOOL_DECISIONS if any(d in a.allowed for a in actions)),
            description="\n\n".join(texts) if texts else None,
            kind=ReviewKind.hitl_request,
            actions=actions,
        )
    if (
        isinstance(value, dict)
        and value.get("type") == "tool_approval"
        and isinstance(value.get("name"), str)
    ):
        decisions = _schema_decisions(response_schema)
        call = ActionReview(
            name=_tool_type(value["name"]),
            args=value.get("args"),
            description=_text(value.get("description")),
            allowed=decisions,
        )
        return InterruptKind(
            type=call.name,
            allowed=decisions,
            description=call.description,
            kind=ReviewKind.tool_approval,
            actions=(call,),
        )
    kind = "raw"
    if isinstance(value, dict):
        for key in ("type", "action"):
            candidate = value.get(key)
            if isinstance(candidate, str) and TYPE_RE.match(candidate):
                kind = candidate
                break
    return InterruptKind(
        type=kind,
        allowed=(DecisionType.response.value,),
        description=_text(value.get("description")) if isinstance(value, dict) else None,
    )


def _tool_decision(decision: Any, action: ActionReview, where: str) -> str:
    """One LangChain v1 decision on ``action``, checked; returns its type."""
    if not isinstance(decision, dict) or decision.get("type") not in ALL_TOOL_DECISIONS:
        raise InvalidInput(
            f'{where}: a decision is {{"type": "approve" | "edit" | "reject" | "respond", ...}}.'
        )
    kind = str(decision["type"])
    if kind not in action.allowed:
        raise InvalidInput(
            f"{where}: {action.name} does not allow '{kind}'.", allowed=list(action.allowed)
        )
    if kind == ToolDecision.edit:
        edited = decision.get("edited_action")
        if not (isinstance(edited, dict) and isinstance(edited.get("args"), dict)):
            raise InvalidInput(f'{where}: an edit carries "edited_action": {{"name", "args"}}.')
        if edited.get("name") != action.name:
            raise InvalidInput(f"{where}: an edit keeps the tool ({action.name}).")
        if action.args_schema is not None:
            check_schema(edited["args"], action.args_schema, f"{where}: edited args")
    if kind == ToolDecision.respond and not isinstance(decision.get("message"), str):
        raise InvalidInput(f"{where}: a respond decision carries the reviewer's message.")
    if kind == ToolDecision.reject and not isinstance(decision.get("message", ""), str):
        raise InvalidInput(f"{where}: a reject's message is text.")
    return kind


def check_schema(value: Any, schema: dict[str, Any], what: str) -> None:
    """``value`` must match the JSON ``schema`` (422 with the first error otherwise)."""
    validator = jsonschema.Draft202012Validator(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(value))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path)
        raise InvalidInput(
            f"{what} do not match the schema{f' at {where}' if where else ''}: {error.message}"
        )


def review_decisions(
    value: Any, kind: InterruptKind, response_schema: dict[str, Any] | None = None
) -> list[tuple[str, str]]:
    """The ``(type, decision)`` of every action a resume value answers, each checked.

    Agent Inbox and raw interrupts: one, see ``decision_of``. A ``HITLRequest``: ``{"decisions":
    [...]}`` with exactly one decision per action, in order. A ``tool_approval``: one decision,
    also checked against the interrupt's ``response_schema``. Raises ``InvalidInput`` (422).
    """
    if kind.kind is ReviewKind.hitl_request:
        decisions = value.get("decisions") if isinstance(value, dict) else None
        if not isinstance(decisions, list) or len(decisions) != len(kind.actions):
            raise InvalidInput(
                f'This request takes {{"decisions": [...]}} with {len(kind.actions)} '
                "decisions, one per action, in order."
            )
        return [
            (action.name, _tool_decision(d, action, f"decisions[{i}]"))
            for i, (action, d) in enumerate(zip(kind.actions, decisions, strict=True))
        ]
    if kind.kind is ReviewKind.tool_approval:
        (action,) = kind.actions
        decided = _tool_decision(value, action, "decision")
        if response_schema is not None:
            check_schema(value, response_schema, "The decision's fields")
        return [(action.name, decided)]
    decision = decision_of(value, agent_inbox=kind.agent_inbox, allowed=kind.allowed)
    return [(kind.type, decision.value)]


EDITS = frozenset({DecisionType.edit.value, ToolDecision.edit.value})


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


def fallback_decision(kind: InterruptKind) -> Any:
    """What an expired interrupt is resolved with when nothing else is configured; None when
    nothing is safe (a tool call that may not be rejected is never approved by the clock)."""
    expired = "The review expired."
    if kind.kind is ReviewKind.hitl_request:
        if not all(ToolDecision.reject in a.allowed for a in kind.actions):
            return None
        return {"decisions": [{"type": "reject", "message": expired} for _ in kind.actions]}
    if kind.kind is ReviewKind.tool_approval:
        allowed = ToolDecision.reject in kind.allowed
        return {"type": "reject", "message": expired} if allowed else None
    if kind.agent_inbox:
        return {"type": DecisionType.ignore.value, "args": None}
    return {"expired": True}


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
