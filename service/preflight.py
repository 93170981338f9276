"""What a start checks before it serves, each failure one sentence naming what to fix.

``countersign serve|api|worker|migrate`` call these before anything else opens: the settings,
the port, the database, Redis and the graphs. A failure is a ``StartupError`` whose message
names the setting (its environment variable or flag) or the file; the CLI prints it as one
line and exits non-zero, without a traceback (``--debug`` shows it) and before any banner.
Connections are given ``CONNECT_SECONDS``: a database that does not answer fails the start
in seconds, not after the drivers' own minute.
"""

from __future__ import annotations

import asyncio
import errno
import multiprocessing
import socket
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from pydantic import ValidationError

from service.errors import ServiceError, StartupError
from service.settings import Settings

# The checks import what they probe with when they run: a failed start should take seconds,
# not the import of every driver and of LangGraph first.

CONNECT_SECONDS = 3.0


def env_name(field: str) -> str:
    return f"COUNTERSIGN_{field.upper()}"


def explain_settings(exc: ValidationError) -> StartupError:
    """The first invalid setting, by its environment variable."""
    first = exc.errors()[0]
    message = str(first.get("msg", "invalid")).removeprefix("Value error, ")
    location = first.get("loc") or ()
    if location:
        return StartupError(f"{env_name(str(location[0]))}: {message}")
    return StartupError(message)


def tokens(settings: Settings) -> None:
    """The token settings hold together (trusted issuers' key sources, algorithms, secret)."""
    from service.auth.jwt import TokenVerifier

    try:
        TokenVerifier(settings)
    except ValueError as exc:
        raise StartupError(f"COUNTERSIGN_JWT_ISSUERS or COUNTERSIGN_JWT_SECRET: {exc}") from exc


def bind(host: str, port: int, *, setting: str) -> socket.socket:
    """The listening socket, bound now: a busy port is a sentence, not a traceback."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise StartupError(f"cannot listen on host {host!r} ({setting}): {exc.strerror}") from exc
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise StartupError(
                f"port {port} on {host} is already in use: stop what uses it, or choose "
                f"another with --port or {setting}"
            ) from exc
        raise StartupError(f"cannot listen on {host}:{port} ({setting}): {exc.strerror}") from exc
    return sock


def _data_dir(settings: Settings) -> None:
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        probe = settings.data_dir / ".write-check"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise StartupError(
            f"cannot write the data directory {settings.data_dir} "
            f"(COUNTERSIGN_DATA_DIR): {exc.strerror}"
        ) from exc


async def storage(settings: Settings) -> None:
    """The database (or the embedded default's data directory) and Redis, concurrently,
    each within ``CONNECT_SECONDS``."""
    from service.queue.probe import probe_redis
    from service.store.db import probe_postgres

    checks = []
    if settings.embedded:
        _data_dir(settings)
    else:
        urls = {
            "COUNTERSIGN_DATABASE_URL": settings.sqlalchemy_url.replace(
                "postgresql+asyncpg://", "postgresql://", 1
            )
        }
        if settings.checkpoint_url:
            urls["COUNTERSIGN_CHECKPOINT_URL"] = settings.checkpoint_url
        checks += [
            probe_postgres(url, named=named, timeout=CONNECT_SECONDS) for named, url in urls.items()
        ]
    if settings.redis_url:
        checks.append(
            probe_redis(settings.redis_url, named="COUNTERSIGN_REDIS_URL", timeout=CONNECT_SECONDS)
        )
    await asyncio.gather(*checks)


def graphs(settings: Settings) -> None:
    """Every graph of ``langgraph.json`` imports and compiles."""
    problem = _graph_problem(settings.graphs_config)
    if problem is not None:
        raise StartupError(problem)


def graphs_apart(settings: Settings) -> None:
    """``graphs`` in a forked process: the worker's supervisor, which runs no graph itself,
    stays free of their modules (its children import them)."""
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        problem = pool.submit(_graph_problem, settings.graphs_config).result()
    if problem is not None:
        raise StartupError(problem)


def _graph_problem(path: Path) -> str | None:
    from service.engine.registry import check_graphs

    if not path.is_file():
        return (
            f"no graphs file at {path}: run from the folder that holds langgraph.json, "
            "or set COUNTERSIGN_GRAPHS_CONFIG"
        )
    try:
        check_graphs(path)
    except ServiceError as exc:
        return str(exc)
    return None
