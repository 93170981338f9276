"""Configuration from the environment (prefix ``COUNTERSIGN_``).

No other module reads ``os.environ``. With nothing set, the service runs the embedded
default: SQLite files under ``data_dir``, the in-process queue and event bus, API and
worker in one process. Setting ``COUNTERSIGN_DATABASE_URL`` to a ``postgresql://`` URL
switches service tables and checkpoints to Postgres; ``COUNTERSIGN_REDIS_URL`` switches
the queue bell and event bus to Redis.
"""

from __future__ import annotations

import json
import secrets
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, BaseModel, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Environment(StrEnum):
    dev = "dev"
    test = "test"
    production = "production"


class TrustedIssuer(BaseModel):
    """One token issuer: its own key set, algorithms and audience, and the tenants it may
    speak for (a token whose tenant claim is not one of them is refused, however well signed)."""

    issuer: str
    jwks: str = Field(description="Path to a JWKS file, or an https:// URL serving one")
    algorithms: list[Literal["RS256", "RS384", "RS512", "ES256", "ES384", "ES512"]] = ["RS256"]
    audience: str | None = None
    tenants: Literal["*"] | list[str] | str = Field(
        description='the tenant it speaks for, a list of them, or "*" for any tenant'
    )

    @field_validator("tenants")
    @classmethod
    def _tenants(cls, value: str | list[str]) -> str | list[str]:
        if value == "*":
            return value
        listed = [value] if isinstance(value, str) else value
        if not listed:
            raise ValueError('name its tenants, or "*" for any')
        return listed

    def speaks_for(self, tenant: str) -> bool:
        return self.tenants == "*" or tenant in self.tenants


DEV_ISSUER = "countersign-dev"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="COUNTERSIGN_", extra="ignore")

    env: Environment = Environment.dev
    data_dir: Path = Path(".countersign")
    host: str = "127.0.0.1"
    port: int = 8123
    graphs_config: Path = Path("langgraph.json")

    # storage
    database_url: str = ""
    checkpoint_url: str = ""
    db_pool_size: int = 20
    db_max_overflow: int = 10
    # named prepared statements cached per connection (both drivers); turn off behind a
    # transaction-mode pooler without protocol-level prepared statements (PgBouncer < 1.21)
    db_prepared_statements: bool = True
    redis_url: str = ""

    # authentication
    jwt_secret: str = ""
    jwt_algorithms: list[str] = ["HS256"]
    jwt_issuer: str = DEV_ISSUER
    jwt_audience: str = "countersign"
    jwt_issuers: list[TrustedIssuer] = []
    jwt_tenant_claim: str = "tenant"
    jwt_leeway_seconds: int = 30
    jwt_max_lifetime_seconds: int = 24 * 3600
    jwt_max_token_bytes: int = 8192
    accept_x_api_key: bool = False  # Agent Inbox compatibility: a JWT in the x-api-key header

    # authorization
    authz_cache_size: int = 10_000
    authz_roles_from_token: bool = False
    policy_poll_seconds: float = 1.0

    # tenants
    auto_provision_tenants: bool = True
    demo_tenant: str = "demo"

    # worker and runs
    worker_concurrency: int = 8
    lease_ttl_seconds: float = 60.0
    lease_renew_seconds: float = 15.0
    reaper_interval_seconds: float = 30.0
    max_attempts: int = 3
    stream_replay_seconds: int = 600
    max_streams_per_tenant: int = 50  # open SSE streams of one tenant in one API process
    # request rates (per second, 0: no limit) and bursts, per tenant and per caller (tenant +
    # subject); shared by every API process through Redis, else kept by the one process
    rate_limit_tenant: float = 50.0
    rate_limit_tenant_burst: int = 100
    rate_limit_principal: float = 25.0
    rate_limit_principal_burst: int = 50
    run_in_api: bool | None = None  # None: True in embedded mode
    # embedded `countersign serve`: the worker in a child process (both cores) or in the API's
    embedded_worker: Literal["process", "inline"] = "process"
    bus_socket: str = ""  # set by `serve` for its worker child: the API's bell and bus
    # `countersign worker` supervises the processes that run graphs (a graph that kills its
    # process takes nothing else down: service/supervisor.py); false runs the worker bare
    worker_supervise: bool = True
    quarantine_idle_seconds: float = 30.0  # the quarantine process exits when idle this long
    # set by the supervisor for its children: which one, its worker id, the pipe to report on
    worker_slot: Literal["", "main", "quarantine"] = ""
    worker_id: str = ""
    supervisor_fd: int = -1

    # operations
    worker_health_host: str = "0.0.0.0"  # noqa: S104 - probes and Prometheus reach the pod
    worker_health_port: int = 9464
    metrics_sample_seconds: float = 1.0
    access_log: bool = True  # one JSON line per request (countersign.access)
    prewarm: bool = True
    hitl_test: bool = Field(
        default=False, validation_alias=AliasChoices("HITL_TEST", "COUNTERSIGN_HITL_TEST")
    )
    hitl_failpoints: str = Field(
        default="", validation_alias=AliasChoices("HITL_FAILPOINTS", "COUNTERSIGN_HITL_FAILPOINTS")
    )
    # R19: the share of service-table statements that fail as if the connection broke
    # (test processes only: ignored unless hitl_test)
    hitl_transient_faults: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        validation_alias=AliasChoices("HITL_TRANSIENT_FAULTS", "COUNTERSIGN_HITL_TRANSIENT_FAULTS"),
    )

    # webhooks
    webhook_allow: list[str] = []  # CIDRs or exact host names allowed despite the SSRF policy
    webhook_timeout_seconds: float = 10.0
    webhook_max_attempts: int = 20

    # web UI: the built frontend/dist served at /ui/ (None: next to the source or in the cwd)
    ui_dir: Path | None = None
    # the UI's sign-in through the organisation's identity provider: OpenID Connect, authorization
    # code with PKCE, the UI a public client (no secret). Its tokens are verified like any other:
    # the issuer must also be one of COUNTERSIGN_JWT_ISSUERS (its tenants, its audience).
    oidc_issuer: str = ""
    oidc_client_id: str = ""
    oidc_scopes: str = "openid profile email"
    oidc_token: Literal["id_token", "access_token"] = "id_token"  # the bearer the UI sends
    oidc_name: str = ""  # "Sign in with <name>" (default: the issuer's host)
    # origins the UI fetches besides the issuer's (a token endpoint on another host): the
    # content security policy lets the UI connect to these and the issuer only
    oidc_origins: list[str] = []
    # the paste-a-token sign-in: None = offered unless production has OIDC configured
    dev_sign_in: bool | None = None

    # limits
    max_body_bytes: int = 1024 * 1024
    # browser apps on other origins (Agent Inbox, agent-chat-ui, SPAs): None = every origin in the
    # embedded default (bearer tokens, no cookies), none in production; a JSON list sets them
    cors_origins: list[str] | None = None
    list_limit_cap: int = 1000

    @field_validator("jwt_issuers", mode="before")
    @classmethod
    def _parse_issuers(cls, value: Any) -> Any:
        if isinstance(value, str):
            return json.loads(value) if value.strip() else []
        return value

    @model_validator(mode="after")
    def _refuse_unsafe_defaults(self) -> Settings:
        if self.env is Environment.production:
            if self.jwt_secret and len(self.jwt_secret) < 32:
                raise ValueError("COUNTERSIGN_JWT_SECRET must be at least 32 characters")
            if not self.jwt_secret and not self.jwt_issuers:
                raise ValueError(
                    "production needs COUNTERSIGN_JWT_SECRET or COUNTERSIGN_JWT_ISSUERS"
                )
            if not self.database_url:
                raise ValueError("production needs COUNTERSIGN_DATABASE_URL")
        if bool(self.oidc_issuer) != bool(self.oidc_client_id):
            raise ValueError("set both COUNTERSIGN_OIDC_ISSUER and COUNTERSIGN_OIDC_CLIENT_ID")
        return self

    @property
    def ui_connects_to(self) -> list[str]:
        """Origins the UI may call besides its own (its content security policy)."""
        if not self.oidc_issuer:
            return []
        issuer = urlsplit(self.oidc_issuer)
        return list(dict.fromkeys([f"{issuer.scheme}://{issuer.netloc}", *self.oidc_origins]))

    @property
    def ui_config(self) -> dict[str, Any]:
        """What the web UI is told before anyone signs in (public: no secret in it)."""
        oidc = None
        if self.oidc_issuer and self.oidc_client_id:
            oidc = {
                "issuer": self.oidc_issuer.rstrip("/"),
                "client_id": self.oidc_client_id,
                "scopes": self.oidc_scopes,
                "token": self.oidc_token,
                "name": self.oidc_name,
            }
        dev = self.dev_sign_in
        if dev is None:
            dev = oidc is None or self.env is not Environment.production
        return {"oidc": oidc, "dev_sign_in": dev}

    @property
    def embedded(self) -> bool:
        return not self.database_url

    @property
    def allowed_origins(self) -> list[str]:
        if self.cors_origins is not None:
            return self.cors_origins
        return ["*"] if self.embedded else []

    @property
    def runs_worker_in_api(self) -> bool:
        return self.embedded if self.run_in_api is None else self.run_in_api

    @property
    def sqlalchemy_url(self) -> str:
        """Service-table URL in SQLAlchemy's async form."""
        if self.embedded:
            return f"sqlite+aiosqlite:///{self.data_dir / 'countersign.db'}"
        url = self.database_url
        for prefix in ("postgresql+psycopg://", "postgres://", "postgresql://"):
            if url.startswith(prefix):
                return "postgresql+asyncpg://" + url[len(prefix) :]
        return url

    @property
    def checkpointer_url(self) -> str:
        """Checkpoint store: a libpq URL for Postgres, or a SQLite file path."""
        if self.checkpoint_url:
            return self.checkpoint_url
        if self.embedded:
            return str(self.data_dir / "checkpoints.db")
        url = self.database_url
        for prefix in ("postgresql+asyncpg://", "postgresql+psycopg://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql://" + url[len(prefix) :]
        return url

    def resolved_jwt_secret(self) -> str:
        """The HS256 secret; in dev, a random one kept in the data dir across restarts."""
        if self.jwt_secret or self.env is Environment.production:
            return self.jwt_secret
        path = self.data_dir / "dev-jwt-secret"
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        secret = secrets.token_urlsafe(48)
        path.write_text(secret)
        path.chmod(0o600)
        return secret


@lru_cache
def get_settings() -> Settings:
    return Settings()
