"""``countersign``: serve (embedded default), api, worker, migrate, token, tenant, policy.

A start checks its settings, port, database, Redis and graphs first (``service/preflight.py``);
what fails is printed as one line naming the setting or file, and the command exits 1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import sys
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from service import logs, preflight
from service.errors import ServiceError, StartupError
from service.settings import Environment, Settings, get_settings

if TYPE_CHECKING:
    from service.services.runtime import Runtime


def _serve(settings: Settings, *, api_only: bool) -> None:
    if api_only:
        settings = settings.model_copy(update={"run_in_api": False})
    sock = preflight.bind(settings.host, settings.port, setting="COUNTERSIGN_PORT")
    _preflight(settings)
    preflight.tokens(settings)

    import uvicorn
    import uvloop

    from service.main import create_app

    worker_process = (
        not api_only
        and settings.embedded
        and settings.runs_worker_in_api
        and settings.embedded_worker == "process"
    )
    app = create_app(settings, worker_process=worker_process)
    config = uvicorn.Config(
        app,
        log_config=None,
        access_log=False,  # EdgeMiddleware writes one JSON line per request
        timeout_graceful_shutdown=30,
    )

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.started:  # answering on its port: never a banner before a failed start
                _banner(settings, api_only=api_only)

    server = Server(config)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(server.serve(sockets=[sock]))
    if not server.started:
        sys.exit(3)  # the app failed to start; its lifespan logged why


def _banner(settings: Settings, *, api_only: bool) -> None:
    from service.auth.jwt import mint_token
    from service.main import DEMO_USER

    url = f"http://{settings.host}:{settings.port}"
    if api_only or not settings.embedded:
        print(f"Countersign API listening on {url}", flush=True)
        return
    token = mint_token(
        settings,
        tenant=settings.demo_tenant,
        subject=DEMO_USER,
        ttl_seconds=settings.jwt_max_lifetime_seconds,
    )
    print(
        f"Countersign (embedded: SQLite in {settings.data_dir}/, in-process queue)\n"
        f"  URL:        {url}\n"
        f"  tenant:     {settings.demo_tenant} (user {DEMO_USER}: admin, editor, agent)\n"
        f"  web UI:     {url}/ui/#token={token}\n"
        f"  dev token:  {token}\n"
        f"  try:        curl -H 'Authorization: Bearer <token>' -H 'Content-Type: "
        f"application/json' -d '{{}}' {url}/assistants/search\n",
        flush=True,
    )


def _preflight(settings: Settings, *, graphs: bool = True) -> None:
    asyncio.run(preflight.storage(settings))
    if graphs:
        preflight.graphs(settings)


def _worker(settings: Settings) -> None:
    starting = not settings.bus_socket and not settings.worker_slot  # not a child of ours
    supervising = settings.worker_supervise and not settings.worker_slot
    if starting:
        preflight.bind(
            settings.worker_health_host,
            settings.worker_health_port,
            setting="COUNTERSIGN_WORKER_HEALTH_PORT",
        ).close()
        _preflight(settings, graphs=not supervising)
        if supervising:
            preflight.graphs_apart(settings)
    if supervising:
        from service.supervisor import supervise

        sys.exit(supervise())
    import uvloop

    from service.worker import run_worker

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(run_worker(settings))


def _migrate(settings: Settings) -> None:
    from service.engine.checkpointer import open_checkpointer
    from service.store import migrations
    from service.store.db import create_engine

    _preflight(settings, graphs=False)

    async def run() -> None:
        engine = create_engine(settings.sqlalchemy_url, application_name="countersign-migrate")
        try:
            await migrations.upgrade(engine)
        finally:
            await engine.dispose()
        async with open_checkpointer(settings.checkpointer_url, pool_size=1):
            pass

    asyncio.run(run())
    print("migrated: service tables and checkpoint tables are up to date")


def _with_runtime(settings: Settings, job: Callable[[Runtime], Awaitable[None]]) -> None:
    from service.bootstrap import open_runtime

    _preflight(settings, graphs=False)

    async def run() -> None:
        async with open_runtime(settings, role="cli") as rt:
            await job(rt)

    asyncio.run(run())


def _token_mint(settings: Settings, tenant: str, subject: str, roles: list[str], ttl: int) -> None:
    """Dev/test only: a signed token, after giving ``subject`` the ``roles`` in the tenant."""
    from service.auth.jwt import mint_token
    from service.services import policies
    from service.services.tenants import create_tenant

    if settings.env is Environment.production:
        raise StartupError("token mint is for dev and test only (COUNTERSIGN_ENV is production)")

    async def grant(rt: Runtime) -> None:
        await create_tenant(rt, tenant)
        await policies.grant_members(rt, tenant, subject, roles)

    if roles:
        _with_runtime(settings, grant)
    print(mint_token(settings, tenant=tenant, subject=subject, ttl_seconds=ttl))


DESCRIPTION = """\
Countersign: human review for LangGraph agents.

With no COUNTERSIGN_DATABASE_URL, `countersign serve` runs the embedded default (SQLite files
under COUNTERSIGN_DATA_DIR, an in-process queue) and prints a URL and a dev token. In
production, run `countersign migrate` once, then `countersign api` and `countersign worker`
as separate processes (COUNTERSIGN_DATABASE_URL, COUNTERSIGN_REDIS_URL, COUNTERSIGN_ENV).
Every option can also be set by the environment variable its help names; a flag wins.
"""


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--debug", action="store_true", help="on a failed start, print the traceback too"
    )

    def command(parent: Any, name: str, summary: str, **kwargs: Any) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = parent.add_parser(
            name, help=summary, description=summary, parents=[common], **kwargs
        )
        return parser

    parser = argparse.ArgumentParser(
        prog="countersign",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, summary in (
        ("serve", "run the API and a worker (the embedded default when no database URL is set)"),
        ("api", "run the API only; workers run as `countersign worker`"),
    ):
        serving = command(sub, name, summary)
        serving.add_argument("--host", help="address to listen on (COUNTERSIGN_HOST, 127.0.0.1)")
        serving.add_argument("--port", type=int, help="port to listen on (COUNTERSIGN_PORT, 8123)")
    worker = command(sub, "worker", "run a worker: claims queued runs and executes the graphs")
    worker.add_argument(
        "--host",
        help="address of its /ok, /readyz and /metrics (COUNTERSIGN_WORKER_HEALTH_HOST, 0.0.0.0)",
    )
    worker.add_argument(
        "--port", type=int, help="port of those probes (COUNTERSIGN_WORKER_HEALTH_PORT, 9464)"
    )
    worker.add_argument(
        "--concurrency",
        type=int,
        help="runs executed at once (COUNTERSIGN_WORKER_CONCURRENCY, 8)",
    )
    command(sub, "migrate", "create or upgrade the service and checkpoint tables, then exit")
    command(sub, "openapi", "print the API's OpenAPI document (JSON); it needs no database")

    token = command(sub, "token", "dev and test tokens")
    token_sub = token.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    mint = command(
        token_sub,
        "mint",
        "print an HS256 token signed with COUNTERSIGN_JWT_SECRET (not production)",
    )
    mint.add_argument("--tenant", required=True, help="the token's tenant claim")
    mint.add_argument("--sub", required=True, help="the token's subject (user id)")
    mint.add_argument(
        "--role", action="append", default=[], help="also give the user this role (repeatable)"
    )
    mint.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds (3600)")

    tenant = command(sub, "tenant", "tenants")
    tenant_sub = tenant.add_subparsers(dest="tenant_command", required=True, metavar="ACTION")
    create = command(tenant_sub, "create", "create a tenant with its default roles")
    create.add_argument("tenant", help="tenant id (the token's tenant claim)")
    create.add_argument("--name", help="display name")
    create.add_argument(
        "--admin", action="append", default=[], help="a first tenant admin (repeatable)"
    )

    policy = command(sub, "policy", "tenant policies")
    policy_sub = policy.add_subparsers(dest="policy_command", required=True, metavar="ACTION")
    export = command(policy_sub, "export", "print a tenant's rules as JSON")
    export.add_argument("--tenant", required=True, help="tenant id")
    imported = command(policy_sub, "import", "replace a tenant's rules from a JSON file")
    imported.add_argument("--tenant", required=True, help="tenant id")
    imported.add_argument("file", type=Path, help="rules as `policy export` prints them")
    platform = command(policy_sub, "platform-admin", "make a user a platform admin")
    platform.add_argument("--tenant", required=True, help="the user's tenant")
    platform.add_argument("--sub", required=True, help="the user's subject")
    return parser


FLAGS = {  # option -> setting; a flag is applied as its environment variable (children read it)
    ("serve", "host"): "host",
    ("serve", "port"): "port",
    ("api", "host"): "host",
    ("api", "port"): "port",
    ("worker", "host"): "worker_health_host",
    ("worker", "port"): "worker_health_port",
    ("worker", "concurrency"): "worker_concurrency",
}


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    for (command, option), field in FLAGS.items():
        value = getattr(args, option, None)
        if args.command == command and value is not None:
            os.environ[preflight.env_name(field)] = str(value)
    get_settings.cache_clear()
    logs.configure()
    try:
        _run(args)
    except (ServiceError, ValidationError) as exc:
        if args.debug:
            traceback.print_exc()
        if isinstance(exc, ValidationError):
            exc = preflight.explain_settings(exc)
        sys.exit(f"countersign: {exc}")
    except KeyboardInterrupt:
        sys.exit(130)


def _run(args: argparse.Namespace) -> None:
    settings = get_settings()
    if args.command in ("serve", "api"):
        _serve(settings, api_only=args.command == "api")
    elif args.command == "worker":
        _worker(settings)
    elif args.command == "migrate":
        _migrate(settings)
    elif args.command == "openapi":
        from service.main import create_app

        print(json.dumps(create_app(settings).openapi(), indent=2, sort_keys=True))
    elif args.command == "token":
        _token_mint(settings, args.tenant, args.sub, args.role, args.ttl)
    elif args.command == "tenant":
        from service.services.tenants import create_tenant

        _with_runtime(settings, lambda rt: create_tenant(rt, args.tenant, args.name, args.admin))
        print(f"tenant {args.tenant} is ready")
    elif args.command == "policy":
        _policy(settings, args)


def _policy(settings: Settings, args: argparse.Namespace) -> None:
    from service.services import policies

    async def job(rt: Runtime) -> None:
        if args.policy_command == "export":
            exported = await policies.export_system(rt, args.tenant)
            print(json.dumps(exported, indent=2))
        elif args.policy_command == "import":
            loaded = json.loads(args.file.read_text())
            rules = loaded.get("rules", loaded) if isinstance(loaded, dict) else loaded
            await policies.import_system(rt, args.tenant, rules)
            print(f"imported the policy of {args.tenant}")
        else:
            await policies.grant_platform_admin(rt, args.tenant, args.sub)
            print(f"{args.tenant}:{args.sub} is a platform admin")

    _with_runtime(settings, job)


if __name__ == "__main__":
    main()
