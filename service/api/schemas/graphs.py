"""A graph's description as LangGraph Server answers it (``GraphSchema``, and without its id for
each subgraph)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class SubgraphSchemaOut(BaseModel):
    input_schema: dict[str, Any] | None
    output_schema: dict[str, Any] | None
    state_schema: dict[str, Any] | None
    config_schema: dict[str, Any] | None
    context_schema: dict[str, Any] | None


class GraphSchemaOut(SubgraphSchemaOut):
    graph_id: str
