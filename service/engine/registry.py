"""Graph registry: reads ``langgraph.json`` and loads each graph by path.

``graphs`` maps a graph id to ``./path/to/file.py:variable`` (or ``package.module:variable``).
The variable may be a compiled graph (StateGraph ``.compile()`` or a Functional API
``@entrypoint``), an uncompiled ``StateGraph`` builder, or a zero-argument function returning
either. Every graph is compiled once with the service's checkpointer. The service never
imports ``graphs`` as a package, so the same files run unchanged under ``langgraph dev``.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import StateGraph
from langgraph.pregel import Pregel

from service.errors import ServiceError


class GraphConfigError(ServiceError):
    code = "graph_config_error"


@dataclass(frozen=True)
class GraphSpec:
    graph_id: str
    target: str
    description: str | None = None


def read_specs(config_path: Path) -> list[GraphSpec]:
    try:
        raw = json.loads(config_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else str(exc)
        raise GraphConfigError(f"cannot read the graphs file {config_path}: {reason}") from exc
    graphs = raw.get("graphs")
    if not isinstance(graphs, dict) or not graphs:
        raise GraphConfigError(f"{config_path} has no 'graphs' mapping")
    specs = []
    for graph_id, target in graphs.items():
        description = None
        if isinstance(target, dict):
            description = target.get("description")
            target = target.get("path")
        if not isinstance(target, str) or ":" not in target:
            raise GraphConfigError(f"graph {graph_id!r}: expected 'path:variable', got {target!r}")
        specs.append(GraphSpec(graph_id=graph_id, target=target, description=description))
    return specs


@contextlib.contextmanager
def _importing(graph_id: str, location: str) -> Iterator[None]:
    """A graph module that fails to import is named with the reason, in one sentence."""
    try:
        yield
    except SyntaxError as exc:
        where = f"{location} line {exc.lineno}" if exc.lineno else location
        raise GraphConfigError(f"graph {graph_id!r}: syntax error in {where}: {exc.msg}") from exc
    except FileNotFoundError as exc:
        raise GraphConfigError(f"graph {graph_id!r}: {location} does not exist") from exc
    except ModuleNotFoundError as exc:
        raise GraphConfigError(
            f"graph {graph_id!r}: importing {location} needs the module {exc.name!r}, "
            "which is not installed"
        ) from exc
    except Exception as exc:
        raise GraphConfigError(
            f"graph {graph_id!r}: importing {location} failed: {type(exc).__name__}: {exc}"
        ) from exc


def _load_object(base_dir: Path, target: str, graph_id: str) -> Any:
    location, _, variable = target.rpartition(":")
    if location.endswith(".py") or "/" in location:
        path = (base_dir / location).resolve()
        module_name = f"countersign_graph_{graph_id.replace('-', '_')}"
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise GraphConfigError(f"graph {graph_id!r}: cannot load {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        with _importing(graph_id, location):
            spec.loader.exec_module(module)
    else:
        with _importing(graph_id, location):
            module = importlib.import_module(location)
    try:
        return getattr(module, variable)
    except AttributeError as exc:
        raise GraphConfigError(f"graph {graph_id!r}: {location} has no {variable!r}") from exc


def _compile(obj: Any, graph_id: str, checkpointer: BaseCheckpointSaver[Any]) -> Pregel[Any, Any]:
    if callable(obj) and not isinstance(obj, (Pregel, StateGraph)):
        try:
            obj = obj()
        except Exception as exc:
            raise GraphConfigError(
                f"graph {graph_id!r}: its factory failed: {type(exc).__name__}: {exc}"
            ) from exc
    if isinstance(obj, StateGraph):
        try:
            return obj.compile(checkpointer=checkpointer, name=graph_id)
        except Exception as exc:  # an unreachable node, a missing edge: named, not a traceback
            raise GraphConfigError(f"graph {graph_id!r} does not compile: {exc}") from exc
    if isinstance(obj, Pregel):
        return obj.copy(update={"checkpointer": checkpointer, "name": graph_id})
    raise GraphConfigError(f"graph {graph_id!r} is neither a StateGraph nor a compiled graph")


class GraphRegistry:
    """Compiled graphs by id, in ``langgraph.json`` order."""

    def __init__(self, graphs: dict[str, Pregel[Any, Any]], specs: list[GraphSpec]) -> None:
        self._graphs = graphs
        self.specs = specs

    @classmethod
    def load(cls, config_path: Path, checkpointer: BaseCheckpointSaver[Any]) -> GraphRegistry:
        specs = read_specs(config_path)
        base_dir = config_path.resolve().parent
        if str(base_dir) not in sys.path:
            sys.path.insert(0, str(base_dir))
        graphs = {
            spec.graph_id: _compile(
                _load_object(base_dir, spec.target, spec.graph_id), spec.graph_id, checkpointer
            )
            for spec in specs
        }
        return cls(graphs, specs)

    @property
    def graph_ids(self) -> list[str]:
        return list(self._graphs)

    def get(self, graph_id: str) -> Pregel[Any, Any] | None:
        return self._graphs.get(graph_id)


def check_graphs(config_path: Path) -> None:
    """Every graph of ``config_path`` imports and compiles (a start checks this first)."""
    from langgraph.checkpoint.memory import InMemorySaver

    GraphRegistry.load(config_path, InMemorySaver())
