"""Graph factories: a ``langgraph.json`` entry naming a function that builds the graph each time
it is used, as LangGraph Server does.

A factory takes ``config`` (the ``RunnableConfig`` of the run: the assistant's config merged
with the run's) and/or ``runtime`` (``langgraph_sdk.runtime.ServerRuntime``: why the graph is
built, the store, and for a run its context). A parameter is recognised by its annotation
(``RunnableConfig``, ``ServerRuntime``), else by its name (``config``, ``runtime``); a lone
parameter of another name gets the config, as LangGraph Server does. The function may be sync
or async and may return the graph, or a context manager (sync or async) that yields it for as
long as it is used. What it returns is compiled like a graph named in the file (a ``StateGraph``
builder or a compiled graph).

A zero-argument plain function is not a factory: it is called once, when the file is loaded.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable
from contextlib import (
    AbstractAsyncContextManager,
    AbstractContextManager,
    AsyncExitStack,
    asynccontextmanager,
)
from dataclasses import dataclass
from typing import Any, Literal

from langchain_core.runnables import RunnableConfig
from langgraph.graph import StateGraph
from langgraph.pregel import Pregel
from langgraph_sdk.runtime import _ExecutionRuntime, _ReadRuntime

from service.errors import ServiceError

Access = Literal["threads.create_run", "threads.update", "threads.read", "assistants.read"]
Argument = Literal["config", "runtime"]


class GraphConfigError(ServiceError):
    code = "graph_config_error"


def _argument(param: inspect.Parameter, lone: bool) -> Argument | None:
    annotation = param.annotation
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    text = text or repr(annotation)
    if "Runtime" in text and "Config" not in text:
        return "runtime"
    if "RunnableConfig" in text:
        return "config"
    if param.name in ("config", "runtime"):
        return "config" if param.name == "config" else "runtime"
    return "config" if lone else None


def _is_async_factory(fn: Callable[..., Any]) -> bool:
    wrapped = getattr(fn, "__wrapped__", None)  # @asynccontextmanager / @contextmanager
    return (
        inspect.iscoroutinefunction(fn)
        or inspect.isasyncgenfunction(wrapped)
        or inspect.isgeneratorfunction(wrapped)
    )


@dataclass(frozen=True)
class GraphFactory:
    graph_id: str
    fn: Callable[..., Any]
    arguments: tuple[tuple[str, Argument, bool], ...]  # (name, what, positional only)

    def call(self, config: RunnableConfig, runtime: Any) -> Any:
        args: list[Any] = []
        kwargs: dict[str, Any] = {}
        for name, what, positional in self.arguments:
            value = config if what == "config" else runtime
            if positional:
                args.append(value)
            else:
                kwargs[name] = value
        return self.fn(*args, **kwargs)


def factory_of(obj: Any, graph_id: str) -> GraphFactory | None:
    """The factory ``obj`` is, or None for a graph (or a zero-argument plain function)."""
    if isinstance(obj, (Pregel, StateGraph)) or not callable(obj):
        return None
    try:
        params = list(inspect.signature(obj).parameters.values())
    except (TypeError, ValueError):  # a builtin without a signature: called once, as before
        return None
    required = [
        p
        for p in params
        if p.default is inspect.Parameter.empty
        and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    ]
    if not params and not _is_async_factory(obj):
        return None
    arguments = []
    for param in params:
        if param.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            continue
        what = _argument(param, lone=len(required) == 1 and param in required)
        if what is None:
            if param in required:
                raise GraphConfigError(
                    f"graph {graph_id!r}: its factory's parameter {param.name!r} is neither "
                    "'config' (RunnableConfig) nor 'runtime' (ServerRuntime)"
                )
            continue
        positional = param.kind is inspect.Parameter.POSITIONAL_ONLY
        arguments.append((param.name, what, positional))
    return GraphFactory(graph_id=graph_id, fn=obj, arguments=tuple(arguments))


def server_runtime(access: Access, *, store: Any = None, context: Any = None) -> Any:
    """LangGraph Server's runtime argument: the run's context only when the graph will run."""
    if access == "threads.create_run":
        return _ExecutionRuntime(access_context=access, store=store, context=context)
    return _ReadRuntime(access_context=access, store=store)


def _failed(graph_id: str, exc: Exception) -> GraphConfigError:
    return GraphConfigError(f"graph {graph_id!r}: its factory failed: {type(exc).__name__}: {exc}")


@asynccontextmanager
async def built(
    factory: GraphFactory,
    config: RunnableConfig,
    runtime: Any,
    compile_graph: Callable[[Any], Pregel[Any, Any]],
) -> AsyncIterator[Pregel[Any, Any]]:
    """The graph ``factory`` builds for ``config``, compiled by ``compile_graph``; a context
    manager it returns stays open while the graph is in use. A failure of the factory (not of
    what the caller then does with the graph) is a ``GraphConfigError`` naming the graph."""
    try:
        made = factory.call(config, runtime)
        if inspect.isawaitable(made):
            made = await made
    except Exception as exc:
        raise _failed(factory.graph_id, exc) from exc
    async with AsyncExitStack() as stack:
        try:
            if isinstance(made, AbstractAsyncContextManager):
                made = await stack.enter_async_context(made)
            elif isinstance(made, AbstractContextManager):
                made = stack.enter_context(made)
        except Exception as exc:
            raise _failed(factory.graph_id, exc) from exc
        yield compile_graph(made)
