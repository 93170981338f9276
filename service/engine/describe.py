"""What a graph looks like, as LangGraph Server answers it: its schemas, its drawing, and its
subgraphs' schemas by namespace (``parent|child``, without task ids)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from langgraph.pregel import Pregel

from service.engine.jsonable import jsonable


def _safe(fn: Callable[[], Any]) -> Any:
    try:
        return jsonable(fn())
    except Exception:  # a graph without a schema of that kind
        return None


def graph_schemas(graph: Pregel[Any, Any]) -> dict[str, Any]:
    """Input, output, state, config and context schemas (None where the graph has none)."""
    return {
        "input_schema": _safe(graph.get_input_jsonschema),
        "output_schema": _safe(graph.get_output_jsonschema),
        "state_schema": _safe(graph.get_input_jsonschema),
        "config_schema": None,
        "context_schema": _safe(graph.get_context_jsonschema),
    }


def drawable(graph: Pregel[Any, Any], xray: bool | int) -> dict[str, Any]:
    return cast(dict[str, Any], jsonable(graph.get_graph(xray=xray).to_json()))


async def subgraph_schemas(
    graph: Pregel[Any, Any], *, namespace: str | None, recurse: bool
) -> dict[str, dict[str, Any]]:
    """Each subgraph's schemas by namespace: the direct ones, or with ``recurse`` every depth;
    with ``namespace`` only that one (a nested namespace needs ``recurse``). A namespace the
    graph does not have is an empty answer, as LangGraph Server gives."""
    found: dict[str, dict[str, Any]] = {}
    async for ns, subgraph in graph.aget_subgraphs(namespace=namespace, recurse=recurse):
        if isinstance(subgraph, Pregel):
            found[ns] = graph_schemas(subgraph)
    return found
