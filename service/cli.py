"""``countersign``: serve (embedded default), api, worker, migrate, token mint, tenant create."""

from __future__ import annotations

import argparse
import asyncio
import sys

from service import logs
from service.settings import Settings, get_settings


def _serve(settings: Settings, *, api_only: bool) -> None:
    import uvicorn

    from service.auth.jwt import mint_token
    from service.main import create_app

    if api_only:
        settings = settings.model_copy(update={"run_in_api": False})
    elif settings.embedded:
        token = mint_token(
            settings,
            tenant=settings.demo_tenant,
            subject="demo-user",
            roles=["tenant_admin"],
            ttl_seconds=settings.jwt_max_lifetime_seconds,
        )
        url = f"http://{settings.host}:{settings.port}"
        print(
            f"Countersign (embedded: SQLite in {settings.data_dir}/, in-process queue)\n"
            f"  URL:        {url}\n"
            f"  tenant:     {settings.demo_tenant}\n"
            f"  dev token:  {token}\n"
            f"  try:        curl -H 'Authorization: Bearer <token>' -H 'Content-Type: "
            f"application/json' -d '{{}}' {url}/assistants/search\n",
            flush=True,
        )
    uvicorn.run(
        create_app(settings),
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


def _tenant_create(settings: Settings, tenant: str, name: str | None) -> None:
    from service.bootstrap import open_runtime
    from service.services.tenants import create_tenant

    async def run() -> None:
        async with open_runtime(settings, role="cli") as rt:
            await create_tenant(rt, tenant, name)

    asyncio.run(run())
    print(f"tenant {tenant} is ready")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="countersign", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run API and worker (embedded default when no URLs are set)")
    sub.add_parser("api", help="run the API only (workers run separately)")
    sub.add_parser("worker", help="run a worker")
    sub.add_parser("migrate", help="create or upgrade the service and checkpoint tables")
    token = sub.add_parser("token", help="dev/test tokens").add_subparsers(
        dest="token_command", required=True
    )
    mint = token.add_parser("mint", help="mint an HS256 token (dev and test only)")
    mint.add_argument("--tenant", required=True)
    mint.add_argument("--sub", required=True)
    mint.add_argument("--role", action="append", default=[])
    mint.add_argument("--ttl", type=int, default=3600)
    tenant = sub.add_parser("tenant", help="tenants").add_subparsers(
        dest="tenant_command", required=True
    )
    create = tenant.add_parser("create", help="create a tenant with its default assistants")
    create.add_argument("tenant")
    create.add_argument("--name")
    args = parser.parse_args(argv)

    settings = get_settings()
    logs.configure()
    if args.command == "serve":
        _serve(settings, api_only=False)
    elif args.command == "api":
        _serve(settings, api_only=True)
    elif args.command == "worker":
        from service.worker import run_worker

        asyncio.run(run_worker(settings))
    elif args.command == "migrate":
        _migrate(settings)
    elif args.command == "token":
        from service.auth.jwt import mint_token

        if settings.env.value == "production":
            sys.exit("token mint is for dev and test only")
        print(
            mint_token(
                settings,
                tenant=args.tenant,
                subject=args.sub,
                roles=args.role,
                ttl_seconds=args.ttl,
            )
        )
    elif args.command == "tenant":
        _tenant_create(settings, args.tenant, args.name)


if __name__ == "__main__":
    main()
