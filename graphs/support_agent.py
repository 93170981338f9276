"""A LangChain v1 agent with human review of its tool calls (``HumanInTheLoopMiddleware``).

The chat model is scripted (no network, no API key) so the demo and the tests are
deterministic, yet it behaves like a real one: it streams its answer token by token and asks
for tools with tool calls. Asked about an order, it calls four tools in one turn, each reviewed
with its own choices: ``lookup_order`` (approve or reject), ``issue_refund`` (approve, edit or
reject), ``send_email`` (any decision) and ``ask_customer`` (a person answers in its place, or
rejects it); once the tools answered, it sums up what happened.

Two graphs: ``support_agent`` pauses once per model turn with a ``HITLRequest`` (batched);
``support_agent_per_call`` pauses once per reviewed tool call with a ``tool_approval``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

from langchain.agents import create_agent
from langchain.agents.middleware import HumanInTheLoopMiddleware
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.tools import tool


@tool
def lookup_order(order_id: str) -> str:
    """Look an order up."""
    return f"Order {order_id}: 1 kettle, 80 EUR, delivered broken."


@tool
def issue_refund(order_id: str, amount: float) -> str:
    """Refund part or all of an order."""
    return f"Refunded {amount:.2f} EUR on {order_id}."


@tool
def send_email(to: str, body: str) -> str:
    """Email a customer."""
    return f"Emailed {to}."


@tool
def ask_customer(question: str) -> str:
    """Ask the customer something; a reviewer answers in their place."""
    return "The customer did not answer."


class ScriptedChatModel(BaseChatModel):
    """Plays the agent's part: tool calls for a new question, a summary after the tools."""

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(self, tools: Sequence[Any], **_kwargs: Any) -> ScriptedChatModel:
        return self

    def _reply(self, messages: list[BaseMessage]) -> AIMessage:
        last = messages[-1]
        if isinstance(last, ToolMessage):
            answers = [m for m in messages if isinstance(m, ToolMessage)]
            done = "; ".join(str(m.content) for m in answers[-4:])
            return AIMessage(content=f"Done. {done}")
        text = str(last.content)
        order = re.search(r"\b([A-Z]-\d+)\b", text) or re.search(r"(\S+)", text or "x")
        order_id = order.group(1) if order else "A-1"
        amount = float((re.search(r"(\d+(?:\.\d+)?)\s*(?:EUR|€)", text) or [0, 80])[1])
        calls = [
            ("lookup_order", {"order_id": order_id}),
            ("issue_refund", {"order_id": order_id, "amount": amount}),
            ("send_email", {"to": "customer@example.com", "body": f"Your refund for {order_id}."}),
            ("ask_customer", {"question": "Do you want a replacement?"}),
        ]
        return AIMessage(
            content="Let me take care of that.",
            tool_calls=[
                {"name": name, "args": args, "id": f"call_{len(messages)}_{i}", "type": "tool_call"}
                for i, (name, args) in enumerate(calls)
            ],
        )

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **_kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._reply(messages))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **_kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        reply = self._reply(messages)
        words = re.findall(r"\S+\s*", str(reply.content))
        for word in words:
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=word, id=reply.id))
            if run_manager:
                run_manager.on_llm_new_token(word, chunk=chunk)
            yield chunk
        if reply.tool_calls:
            yield ChatGenerationChunk(
                message=AIMessageChunk(
                    content="",
                    tool_call_chunks=[
                        {
                            "name": call["name"],
                            "args": _json(call["args"]),
                            "id": call["id"],
                            "index": i,
                            "type": "tool_call_chunk",
                        }
                        for i, call in enumerate(reply.tool_calls)
                    ],
                )
            )


def _json(value: Any) -> str:
    import json

    return json.dumps(value)


REVIEW: dict[str, Any] = {
    "lookup_order": {"allowed_decisions": ["approve", "reject"]},
    "issue_refund": {"allowed_decisions": ["approve", "edit", "reject"]},
    "send_email": True,
    "ask_customer": {"allowed_decisions": ["respond", "reject"]},
}
TOOLS = [lookup_order, issue_refund, send_email, ask_customer]
PROMPT = "You are a support agent. Refunds and emails are reviewed by a person."

graph = create_agent(
    ScriptedChatModel(),
    tools=TOOLS,
    system_prompt=PROMPT,
    middleware=[HumanInTheLoopMiddleware(interrupt_on=REVIEW)],
)

per_call = create_agent(
    ScriptedChatModel(),
    tools=TOOLS,
    system_prompt=PROMPT,
    middleware=[HumanInTheLoopMiddleware(interrupt_on=REVIEW, interrupt_mode="per_call")],
)
