"""``countersign``: serve (embedded default), api, worker, migrate, token, tenant, policy."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from service import logs
from service.settings import Environment, Settings, get_settings

if TYPE_CHECKING:
    from service.services.runtime import Runtime


def _serve(settings: Settings, *, api_only: bool) -> None:
    import uvicorn

    from service.auth.jwt import mint_token
    from service.main import DEMO_USER, create_app

    if api_only:
        settings = settings.model_copy(update={"run_in_api": False})
    elif settings.embedded:
        token = mint_token(
            settings,
            tenant=settings.demo_tenant,
            subject=DEMO_USER,
            ttl_seconds=settings.jwt_max_lifetime_seconds,
        )
        url = f"http://{settings.host}:{settings.port}"
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
    worker_process = (
        not api_only
        and settings.embedded
        and settings.runs_worker_in_api
        and settings.embedded_worker == "process"
    )
    uvicorn.run(
        create_app(settings, worker_process=worker_process),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=30,
    )


def _migrate(settings: Settings) -> None:
    from service.engine.checkpointer import open_checkpointer
    from service.store import migrations
    from service.store.db import create_engine

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
        sys.exit("token mint is for dev and test only")

    async def grant(rt: Runtime) -> None:
        await create_tenant(rt, tenant)
        await policies.grant_members(rt, tenant, subject, roles)

    if roles:
        _with_runtime(settings, grant)
    print(mint_token(settings, tenant=tenant, subject=subject, ttl_seconds=ttl))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="countersign", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run API and worker (embedded default when no URLs are set)")
    sub.add_parser("api", help="run the API only (workers run separately)")
    sub.add_parser("worker", help="run a worker")
    sub.add_parser("migrate", help="create or upgrade the service and checkpoint tables")

    token = sub.add_parser("token", help="dev/test tokens")
    token_sub = token.add_subparsers(dest="token_command", required=True)
    mint = token_sub.add_parser("mint", help="mint an HS256 token (dev and test only)")
    mint.add_argument("--tenant", required=True)
    mint.add_argument("--sub", required=True)
    mint.add_argument("--role", action="append", default=[], help="also give the user this role")
    mint.add_argument("--ttl", type=int, default=3600)

    tenant = sub.add_parser("tenant", help="tenants")
    tenant_sub = tenant.add_subparsers(dest="tenant_command", required=True)
    create = tenant_sub.add_parser("create", help="create a tenant with its default roles")
    create.add_argument("tenant")
    create.add_argument("--name")
    create.add_argument("--admin", action="append", default=[], help="first tenant admin(s)")

    policy = sub.add_parser("policy", help="tenant policies")
    policy_sub = policy.add_subparsers(dest="policy_command", required=True)
    export = policy_sub.add_parser("export", help="print a tenant's rules as JSON")
    export.add_argument("--tenant", required=True)
    imported = policy_sub.add_parser("import", help="replace a tenant's rules from a JSON file")
    imported.add_argument("--tenant", required=True)
    imported.add_argument("file", type=Path)
    platform = policy_sub.add_parser("platform-admin", help="make a user a platform admin")
    platform.add_argument("--tenant", required=True)
    platform.add_argument("--sub", required=True)
    args = parser.parse_args(argv)

    settings = get_settings()
    logs.configure()
    if args.command in ("serve", "api"):
        _serve(settings, api_only=args.command == "api")
    elif args.command == "worker" and settings.worker_supervise and not settings.worker_slot:
        from service.supervisor import supervise

        sys.exit(supervise())
    elif args.command == "worker":
        import uvloop

        from service.worker import run_worker

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(run_worker(settings))
    elif args.command == "migrate":
        _migrate(settings)
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
