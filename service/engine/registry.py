"""Graph registry: reads ``langgraph.json`` and loads each graph by path.

``graphs`` maps a graph id to ``./path/to/file.py:variable`` (or ``package.module:variable``).
The variable may be a compiled graph (StateGraph ``.compile()`` or a Functional API
``@entrypoint``), an uncompiled ``StateGraph`` builder, or a zero-argument function returning
either: each is compiled once with the service's checkpointer. It may also be a graph factory
(``factories.py``), which builds the graph each time it is used (``GraphRegistry.build``).
A file is loaded once per process, however many graphs and registries name it. The service
never imports ``graphs`` as a package, so the same files run unchanged under ``langgraph dev``.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import StateGraph
from langgraph.pregel import Pregel
from langgraph.store.base import BaseStore

from service.engine.factories import (
    Access,
    GraphConfigError,
    GraphFactory,
    built,
    factory_of,
    server_runtime,
)

__all__ = ["GraphConfigError", "GraphRegistry", "GraphSpec", "check_graphs", "read_specs"]

_MODULES: dict[Path, ModuleType] = {}  # files loaded by path, loaded once per process


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
        module = _MODULES.get(path) or _load_file(path, graph_id, location)
    else:
        with _importing(graph_id, location):
            module = importlib.import_module(location)
    try:
        return getattr(module, variable)
    except AttributeError as exc:
        raise GraphConfigError(f"graph {graph_id!r}: {location} has no {variable!r}") from exc


def _load_file(path: Path, graph_id: str, location: str) -> ModuleType:
    module_name = f"countersign_graph_{len(_MODULES)}_{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise GraphConfigError(f"graph {graph_id!r}: cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        with _importing(graph_id, location):
            spec.loader.exec_module(module)
    except GraphConfigError:
        del sys.modules[module_name]
        raise
    _MODULES[path] = module
    return module


def _compile(obj: Any, graph_id: str, checkpointer: BaseCheckpointSaver[Any]) -> Pregel[Any, Any]:
    if callable(obj) and not isinstance(obj, (Pregel, StateGraph)):
        try:
            obj = obj()
        except Exception as exc:
            raise GraphConfigError(
                f"graph {graph_id!r}: its factory failed: {type(exc).__name__}: {exc}"
            ) from exc
    return _compile_graph(obj, graph_id, checkpointer)


def _compile_graph(
    obj: Any, graph_id: str, checkpointer: BaseCheckpointSaver[Any]
) -> Pregel[Any, Any]:
    if isinstance(obj, StateGraph):
        try:
            return obj.compile(checkpointer=checkpointer, name=graph_id)
        except Exception as exc:  # an unreachable node, a missing edge: named, not a traceback
            raise GraphConfigError(f"graph {graph_id!r} does not compile: {exc}") from exc
    if isinstance(obj, Pregel):
        return obj.copy(update={"checkpointer": checkpointer, "name": graph_id})
    raise GraphConfigError(f"graph {graph_id!r} is neither a StateGraph nor a compiled graph")


class GraphRegistry:
    """Compiled graphs and graph factories by id, in ``langgraph.json`` order."""

    def __init__(
        self,
        graphs: dict[str, Pregel[Any, Any]],
        specs: list[GraphSpec],
        factories: dict[str, GraphFactory] | None = None,
        checkpointer: BaseCheckpointSaver[Any] | None = None,
    ) -> None:
        self._graphs = graphs
        self._factories = factories or {}
        self._checkpointer = checkpointer
        self._store: BaseStore | None = None  # what ``use_store`` gave, for factories too
        self.specs = specs

    @classmethod
    def load(cls, config_path: Path, checkpointer: BaseCheckpointSaver[Any]) -> GraphRegistry:
        specs = read_specs(config_path)
        base_dir = config_path.resolve().parent
        if str(base_dir) not in sys.path:
            sys.path.insert(0, str(base_dir))
        graphs: dict[str, Pregel[Any, Any]] = {}
        factories: dict[str, GraphFactory] = {}
        for spec in specs:
            obj = _load_object(base_dir, spec.target, spec.graph_id)
            factory = factory_of(obj, spec.graph_id)
            if factory is not None:
                factories[spec.graph_id] = factory
            else:
                graphs[spec.graph_id] = _compile(obj, spec.graph_id, checkpointer)
        return cls(graphs, specs, factories, checkpointer)

    @property
    def graph_ids(self) -> list[str]:
        return [spec.graph_id for spec in self.specs if self.known(spec.graph_id)]

    def known(self, graph_id: str) -> bool:
        return graph_id in self._graphs or graph_id in self._factories

    def get(self, graph_id: str) -> Pregel[Any, Any] | None:
        """The compiled graph of ``graph_id``; None for a factory (see ``build``)."""
        return self._graphs.get(graph_id)

    def use_store(self, store: BaseStore) -> None:
        """Every compiled graph runs with ``store`` (``tenant_store.GraphStore``: the store
        of the tenant whose run calls it), as LangGraph Server gives its graphs its store."""
        self._store = store
        for graph in self._graphs.values():
            graph.store = store

    @asynccontextmanager
    async def build(
        self,
        graph_id: str,
        config: RunnableConfig | None = None,
        *,
        access: Access = "threads.read",
        store: Any = None,
        context: Any = None,
    ) -> AsyncIterator[Pregel[Any, Any] | None]:
        """The graph for one use: the compiled one, or what its factory builds for ``config``
        (the run's, or the assistant's); None for an unknown id."""
        factory = self._factories.get(graph_id)
        if factory is None or self._checkpointer is None:
            yield self._graphs.get(graph_id)
            return
        saver = self._checkpointer
        runtime = server_runtime(access, store=store or self._store, context=context)
        async with built(
            factory,
            config or {},
            runtime,
            lambda obj: _compile_graph(obj, graph_id, saver),
        ) as graph:
            if self._store is not None:
                graph.store = self._store
            yield graph


def check_graphs(config_path: Path) -> None:
    """Every graph of ``config_path`` imports and compiles (a start checks this first).

    A factory is imported and its parameters checked, but not called: it may need the config
    or context of a real run, or reach services (a model, an MCP server) a start must not wait
    for; what it builds is checked each time it builds (a failure is the run's error)."""
    from langgraph.checkpoint.memory import InMemorySaver

    GraphRegistry.load(config_path, InMemorySaver())
