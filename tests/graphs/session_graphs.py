"""Graphs only the tests use: the support agent without its review, so a run streams its
messages, runs its tools and ends (the SDK's thread-streaming example, as written)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from langchain.agents import create_agent

_path = Path(__file__).resolve().parents[2] / "graphs" / "support_agent.py"
_spec = importlib.util.spec_from_file_location("_support_agent_for_sessions", _path)
assert _spec is not None
assert _spec.loader is not None
_agent = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_agent)

unreviewed = create_agent(
    _agent.ScriptedChatModel(), tools=_agent.TOOLS, system_prompt=_agent.PROMPT
)
